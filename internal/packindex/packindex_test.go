package packindex

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

func git(t *testing.T, dir string, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@t", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// repo makes a repository with tags v1 and v2: v2 edits every file of v1
// a little, so that git packs v2's files as deltas of v1's.
func repo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	git(t, dir, nil, "init", "-q")
	for v := 1; v <= 2; v++ {
		for f := range 20 {
			var b strings.Builder
			for line := range 400 {
				fmt.Fprintf(&b, "file %d line %d\n", f, line)
				if line%97 == 0 {
					fmt.Fprintf(&b, "edit of v%d\n", v)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d.txt", f)), []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		git(t, dir, nil, "add", ".")
		git(t, dir, nil, "commit", "-q", "-m", fmt.Sprint("v", v))
		git(t, dir, nil, "tag", fmt.Sprint("v", v))
	}
	return dir
}

// writePack writes pack to a file in a temp dir and returns it, open for
// reading and writing.
func writePack(t *testing.T, pack []byte) *os.File {
	t.Helper()
	name := filepath.Join(t.TempDir(), "test.pack")
	if err := os.WriteFile(name, pack, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func encode(t *testing.T, idx *idxfile.MemoryIndex) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := idxfile.NewEncoder(&b).Encode(idx); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// gitIndex returns the index git's index-pack writes for the pack file.
func gitIndex(t *testing.T, dir, pack string) []byte {
	t.Helper()
	idx := filepath.Join(t.TempDir(), "git.idx")
	git(t, dir, nil, "index-pack", "-o", idx, pack)
	b, err := os.ReadFile(idx)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestIndexMatchesGit(t *testing.T) {
	dir := repo(t)
	store := filesystem.NewStorage(osfs.New(filepath.Join(dir, ".git")), cache.NewObjectLRUDefault())
	tests := []struct {
		name string
		args []string
		revs string
		thin bool
	}{
		{"ofs deltas", []string{"--delta-base-offset"}, "v2\n", false},
		{"ref deltas", nil, "v2\n", false},
		{"thin, ofs deltas", []string{"--delta-base-offset", "--thin"}, "v2\n^v1\n", true},
		{"thin, ref deltas", []string{"--thin"}, "v2\n^v1\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"pack-objects", "-q", "--stdout", "--revs"}, tt.args...)
			f := writePack(t, git(t, dir, []byte(tt.revs), args...))
			idx, err := Index(context.Background(), f, Options{Bases: store, TempDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			// For a thin pack, git indexes the pack as this package
			// completed it.
			if want, got := gitIndex(t, dir, f.Name()), encode(t, idx); !bytes.Equal(got, want) {
				t.Errorf("index differs from git's: %d bytes, git's %d", len(got), len(want))
			}
			if n, _ := idx.Count(); tt.thin && n <= 40 {
				t.Errorf("thin pack indexed with %d objects: no base appended?", n)
			}
		})
	}
}

// TestIndexLargeBlob indexes a pack holding a 512 MiB blob, and an
// 80 MiB one with a delta of it (a base too large for memory), with
// little memory.
func TestIndexLargeBlob(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 512 MiB file")
	}
	const big, mid = 512 << 20, 80 << 20
	var delta []byte
	delta = append(delta, deltaHeader(mid)...)
	delta = append(delta, deltaHeader(mid)...)
	delta = append(delta, 1, 'x') // the edit, then the rest of the base
	for off := 1; off < mid; off += 0xffffff {
		n := min(0xffffff, mid-off)
		delta = append(delta, 0xff)
		delta = binary.LittleEndian.AppendUint32(delta, uint32(off))
		delta = append(delta, byte(n), byte(n>>8), byte(n>>16))
	}
	name := filepath.Join(t.TempDir(), "big.pack")
	out, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	writePackTo(t, out, []entry{{typ: plumbing.BlobObject, zeros: big}, {typ: plumbing.BlobObject, zeros: mid},
		{typ: plumbing.OFSDeltaObject, data: delta, ofs: 1}})
	out.Close()
	want := []plumbing.Hash{zeroBlob(big, ""), zeroBlob(mid, ""), zeroBlob(mid-1, "x")}
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	idx, err := Index(context.Background(), f, Options{TempDir: t.TempDir()})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("indexing allocated %d MiB in all", alloc>>20)
	}
	for _, h := range want {
		if ok, _ := idx.Contains(h); !ok {
			t.Errorf("index lacks %s", h)
		}
	}
}

// zeroBlob is the hash of the blob of prefix and then n zeros.
func zeroBlob(n int64, prefix string) plumbing.Hash {
	h := plumbing.NewHasher(plumbing.BlobObject, int64(len(prefix))+n)
	h.Write([]byte(prefix))
	io.CopyN(h, zeroReader{}, n)
	return h.Sum()
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// deltaHeader encodes a size of a delta's header.
func deltaHeader(n int) []byte {
	var b []byte
	for ; n >= 0x80; n >>= 7 {
		b = append(b, byte(n&0x7f)|0x80)
	}
	return append(b, byte(n))
}

// entry is an object of a pack made by writePackTo: a whole object, or a
// delta of the object ofs entries back or of hash ref. Its content is
// data, or zeros zero bytes.
type entry struct {
	typ   plumbing.ObjectType
	data  []byte
	zeros int64
	ofs   int
	ref   plumbing.Hash
}

// writePackTo writes a pack of entries to w, checksum included.
func writePackTo(t *testing.T, w io.Writer, entries []entry) {
	t.Helper()
	sum := sha1.New()
	pos := &countingWriter{w: io.MultiWriter(w, sum)}
	pos.Write(binary.BigEndian.AppendUint32([]byte("PACK\x00\x00\x00\x02"), uint32(len(entries))))
	zw, _ := zlib.NewWriterLevel(nil, zlib.BestSpeed)
	var offs []int64
	for i, e := range entries {
		offs = append(offs, pos.n)
		pos.Write(EntryHeader(e.typ, int64(len(e.data))+e.zeros))
		switch e.typ {
		case plumbing.OFSDeltaObject:
			pos.Write(ofsDistance(offs[i] - offs[i-e.ofs]))
		case plumbing.REFDeltaObject:
			pos.Write(e.ref[:])
		}
		zw.Reset(pos)
		zw.Write(e.data)
		io.CopyN(zw, zeroReader{}, e.zeros)
		zw.Close()
	}
	if _, err := pos.Write(sum.Sum(nil)); err != nil {
		t.Fatal(err)
	}
}

// buildPack makes a pack of entries.
func buildPack(t *testing.T, entries []entry) []byte {
	var b bytes.Buffer
	writePackTo(t, &b, entries)
	return b.Bytes()
}

// ofsDistance encodes an OFS_DELTA's distance to its base as git does.
func ofsDistance(d int64) []byte {
	b := []byte{byte(d & 0x7f)}
	for d >>= 7; d > 0; d >>= 7 {
		d--
		b = append([]byte{0x80 | byte(d&0x7f)}, b...)
	}
	return b
}

// copyAll is a delta that copies the whole of a base of n < 128 bytes.
func copyAll(n int) []byte { return []byte{byte(n), byte(n), 0x90, byte(n)} }

func TestIndexRefusesHostilePacks(t *testing.T) {
	blob := []byte("hello, world\n")
	n := len(blob)
	valid := []entry{{typ: plumbing.BlobObject, data: blob}, {typ: plumbing.OFSDeltaObject, data: copyAll(n), ofs: 1}}
	deep := []entry{{typ: plumbing.BlobObject, data: blob}}
	for range maxDepth + 1 {
		deep = append(deep, entry{typ: plumbing.OFSDeltaObject, data: copyAll(n), ofs: 1})
	}
	corrupt := func(pack []byte, at int, b byte) []byte {
		pack = bytes.Clone(pack)
		pack[at] ^= b
		return pack
	}
	tests := []struct {
		name string
		pack []byte
		want error
	}{
		{"copy beyond base", buildPack(t, []entry{valid[0], {typ: plumbing.OFSDeltaObject, data: []byte{byte(n), 20, 0x90, 20}, ofs: 1}}), ErrMalformed},
		{"wrong base size", buildPack(t, []entry{valid[0], {typ: plumbing.OFSDeltaObject, data: copyAll(n + 1), ofs: 1}}), ErrMalformed},
		{"instruction 0", buildPack(t, []entry{valid[0], {typ: plumbing.OFSDeltaObject, data: []byte{byte(n), 1, 0}, ofs: 1}}), ErrMalformed},
		{"insert cut short", buildPack(t, []entry{valid[0], {typ: plumbing.OFSDeltaObject, data: []byte{byte(n), 5, 5, 'a'}, ofs: 1}}), ErrMalformed},
		{"result shorter than declared", buildPack(t, []entry{valid[0], {typ: plumbing.OFSDeltaObject, data: []byte{byte(n), 50, 0x90, byte(n)}, ofs: 1}}), ErrMalformed},
		{"base missing", buildPack(t, []entry{{typ: plumbing.REFDeltaObject, data: copyAll(n), ref: plumbing.NewHash("0123456789012345678901234567890123456789")}}), ErrBaseMissing},
		{"ref to itself", buildPack(t, []entry{{typ: plumbing.REFDeltaObject, data: copyAll(n), ref: plumbing.ComputeHash(plumbing.BlobObject, blob)}}), ErrBaseMissing},
		{"chain too deep", buildPack(t, deep), ErrChainTooDeep},
		{"truncated", buildPack(t, valid)[:30], ErrMalformed},
		{"wrong checksum", corrupt(buildPack(t, valid), len(buildPack(t, valid))-1, 1), ErrMalformed},
		{"junk after checksum", append(buildPack(t, valid), 0), ErrMalformed},
		{"count too large", corrupt(buildPack(t, valid), 11, 4), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Index(context.Background(), writePack(t, tt.pack), Options{TempDir: t.TempDir()})
			if !errors.Is(err, tt.want) {
				t.Errorf("Index: %v, want %v", err, tt.want)
			}
		})
	}
	// A chain of maxDepth is fine: the test packs are right.
	idx, err := Index(context.Background(), writePack(t, buildPack(t, deep[:maxDepth+1])), Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := idx.Count(); n != 1 {
		t.Errorf("%d objects indexed, want 1 (every delta rebuilds the blob)", n)
	}
}
