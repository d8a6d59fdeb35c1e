// Package hugeblob builds, in seconds, and serves a git repository whose one commit
// holds a huge file of zeros: the hostile release of the tests that check
// that nothing inflates what it was not allowed to. The pack and its index
// are written here rather than by git, which would deflate (and git
// index-pack inflate) the gigabytes once more.
package hugeblob

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"

	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// Chunk is the granularity of sizes: ZlibZeros repeats the deflate blocks
// of one Chunk of zeros.
const Chunk = 1 << 20

// FileName is the name of the huge file in the repository's tree.
const FileName = "zeros"

// ZlibZeros writes a zlib stream of n zeros (a multiple of Chunk) to w.
// Deflate blocks that a fresh compressor makes of one Chunk refer only to
// bytes of their own, so the stream is those blocks n/Chunk times, then a
// final empty block and the Adler-32 of n zeros, which is (n mod
// 65521)<<16 | 1: a stays 1, and b adds it once a byte.
func ZlibZeros(w io.Writer, n int64) error {
	if n%Chunk != 0 {
		return fmt.Errorf("hugeblob: %d is not a multiple of %d", n, Chunk)
	}
	var blocks, last bytes.Buffer
	fw, _ := flate.NewWriter(&blocks, flate.BestSpeed) // the level is valid
	fw.Write(make([]byte, Chunk))
	fw.Flush() // ends byte-aligned, not final
	fw, _ = flate.NewWriter(&last, flate.BestSpeed)
	fw.Close() // one final empty block
	if _, err := w.Write([]byte{0x78, 0x01}); err != nil {
		return err
	}
	for range n / Chunk {
		if _, err := w.Write(blocks.Bytes()); err != nil {
			return err
		}
	}
	sum := binary.BigEndian.AppendUint32(last.Bytes(), uint32(n%65521)<<16|1)
	_, err := w.Write(sum)
	return err
}

// object is one entry of the pack.
type object struct {
	hash   [sha1.Size]byte
	offset int64
	crc    uint32
}

// packWriter writes a pack, noting its objects for the index.
type packWriter struct {
	w       io.Writer // the file, through sum
	sum     io.Writer // hash of the whole pack
	off     int64
	objects []object
}

func (p *packWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.off += int64(n)
	return n, err
}

// add writes an object of type typ (1 commit, 2 tree, 3 blob) whose
// content, size bytes, write produces as a zlib stream to its writer.
func (p *packWriter) add(typ byte, size int64, hash [sha1.Size]byte, write func(io.Writer) error) error {
	obj := object{hash: hash, offset: p.off}
	crc := crc32.NewIEEE()
	out := io.MultiWriter(p, crc)
	head := []byte{typ<<4 | byte(size&0x0f)}
	for s := size >> 4; s > 0; s >>= 7 {
		head[len(head)-1] |= 0x80
		head = append(head, byte(s&0x7f))
	}
	if _, err := out.Write(head); err != nil {
		return err
	}
	if err := write(out); err != nil {
		return err
	}
	obj.crc = crc.Sum32()
	p.objects = append(p.objects, obj)
	return nil
}

// addSmall writes an object whose content is in memory.
func (p *packWriter) addSmall(typ byte, kind string, content []byte) ([sha1.Size]byte, error) {
	h := sha1.Sum(append(fmt.Appendf(nil, "%s %d\x00", kind, len(content)), content...))
	return h, p.add(typ, int64(len(content)), h, func(w io.Writer) error {
		zw := zlib.NewWriter(w)
		zw.Write(content)
		return zw.Close()
	})
}

// Repo creates a bare repository in dir (which must not exist) whose
// branch main, HEAD, and tag each point at one commit, whose tree holds
// FileName: size zeros. It returns the commit's hash.
func Repo(dir string, size int64, tag string) (string, error) {
	if out, err := git("", "init", "-q", "--bare", "-b", "main", dir); err != nil {
		return "", fmt.Errorf("%w: %s", err, out)
	}
	blobHash := sha1.New()
	fmt.Fprintf(blobHash, "blob %d\x00", size)
	if _, err := io.CopyN(blobHash, zeroReader{}, size); err != nil {
		return "", err
	}
	packDir := filepath.Join(dir, "objects", "pack")
	f, err := os.CreateTemp(packDir, "tmp-pack-")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sum := sha1.New()
	p := &packWriter{w: io.MultiWriter(f, sum)}
	head := binary.BigEndian.AppendUint32([]byte("PACK\x00\x00\x00\x02"), 3)
	if _, err := p.w.Write(head); err != nil { // not an object: no offset to note
		return "", err
	}
	p.off = int64(len(head))
	blob := [sha1.Size]byte(blobHash.Sum(nil))
	if err := p.add(3, size, blob, func(w io.Writer) error { return ZlibZeros(w, size) }); err != nil {
		return "", err
	}
	tree, err := p.addSmall(2, "tree", append([]byte("100644 "+FileName+"\x00"), blob[:]...))
	if err != nil {
		return "", err
	}
	commit, err := p.addSmall(1, "commit", fmt.Appendf(nil,
		"tree %x\nauthor hostile <h@hoist.invalid> 0 +0000\ncommitter hostile <h@hoist.invalid> 0 +0000\n\n%d zeros\n", tree, size))
	if err != nil {
		return "", err
	}
	packSum := sum.Sum(nil)
	if _, err := f.Write(packSum); err != nil {
		return "", err
	}
	base := filepath.Join(packDir, "pack-"+hex.EncodeToString(packSum))
	if err := os.WriteFile(base+".idx", index(p.objects, packSum), 0o444); err != nil {
		return "", err
	}
	if err := os.Rename(f.Name(), base+".pack"); err != nil {
		return "", err
	}
	id := hex.EncodeToString(commit[:])
	for _, ref := range []string{"refs/heads/main", "refs/tags/" + tag} {
		if out, err := git(dir, "update-ref", ref, id); err != nil {
			return "", fmt.Errorf("%w: %s", err, out)
		}
	}
	return id, nil
}

// index is the version 2 pack index of objects: fan-out table, names,
// CRC-32s and offsets in name order, then the pack's and its own checksum.
func index(objects []object, packSum []byte) []byte {
	slices.SortFunc(objects, func(a, b object) int { return bytes.Compare(a.hash[:], b.hash[:]) })
	idx := []byte("\xfftOc\x00\x00\x00\x02")
	for i := range 256 {
		n := 0
		for _, o := range objects {
			if int(o.hash[0]) <= i {
				n++
			}
		}
		idx = binary.BigEndian.AppendUint32(idx, uint32(n))
	}
	for _, o := range objects {
		idx = append(idx, o.hash[:]...)
	}
	for _, o := range objects {
		idx = binary.BigEndian.AppendUint32(idx, o.crc)
	}
	for _, o := range objects {
		idx = binary.BigEndian.AppendUint32(idx, uint32(o.offset)) // packs here stay far below 2 GiB
	}
	idx = append(idx, packSum...)
	s := sha1.Sum(idx)
	return append(idx, s[:]...)
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// git runs git in dir.
func git(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = releaserepo.GitEnv()
	return cmd.CombinedOutput()
}
