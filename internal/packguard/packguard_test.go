package packguard

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/testutil/hugeblob"
)

// gitPack returns a pack that git made of a repository of two commits,
// the second editing a file of the first: its blob is a delta, an
// OFS_DELTA or with refDelta a REF_DELTA. It also returns the sum of the
// inflated sizes Writer counts.
func gitPack(t *testing.T, refDelta bool) ([]byte, int64) {
	t.Helper()
	dir := t.TempDir()
	git := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir, cmd.Stdin = dir, strings.NewReader(stdin)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("git %v: %v", args, err)
		}
		return string(out)
	}
	git("", "init", "-q")
	text := strings.Repeat("a line of the release that the next one keeps\n", 2000)
	for i, edit := range []string{"", "one more line\n"} {
		if err := os.WriteFile(dir+"/file.txt", []byte(text+edit), 0o644); err != nil {
			t.Fatal(err)
		}
		git("", "add", "file.txt")
		git("", "commit", "-q", "-m", "commit "+string(rune('1'+i)))
	}
	args := []string{"pack-objects", "--stdout", "--revs"}
	if !refDelta {
		args = append(args, "--delta-base-offset")
	}
	pack := git("HEAD\n", args...)
	// What Writer counts: for each object its size, for the delta the
	// larger of its size and its result's.
	var sum int64
	for _, line := range strings.Split(strings.TrimSpace(git("", "rev-list", "--objects", "--all")), "\n") {
		var size int64
		if _, err := fmt.Sscan(git("", "cat-file", "-s", strings.Fields(line)[0]), &size); err != nil {
			t.Fatal(err)
		}
		sum += size
	}
	return []byte(pack), sum
}

// write sends pack to a Writer in chunks of n bytes, and returns what
// reached the destination and the error of the Writes or Close.
func write(pack []byte, l Limits, n int) ([]byte, error) {
	var dst bytes.Buffer
	w := NewWriter(&dst, l)
	for p := pack; len(p) > 0; p = p[min(n, len(p)):] {
		if _, err := w.Write(p[:min(n, len(p))]); err != nil {
			return dst.Bytes(), errors.Join(err, w.Close())
		}
	}
	return dst.Bytes(), w.Close()
}

func TestWriterPassesAPackWithinItsLimits(t *testing.T) {
	for _, refDelta := range []bool{false, true} {
		pack, sum := gitPack(t, refDelta)
		for _, chunk := range []int{1, 7, 4096, len(pack)} {
			got, err := write(pack, Limits{Bytes: sum, Objects: 6}, chunk)
			if err != nil || !bytes.Equal(got, pack) {
				t.Errorf("refDelta %v, chunks of %d: %d of %d bytes passed, %v", refDelta, chunk, len(got), len(pack), err)
			}
		}
	}
}

func TestWriterRefusesBeyondItsLimits(t *testing.T) {
	pack, sum := gitPack(t, false)
	tests := []struct {
		name string
		l    Limits
	}{
		{"one byte less", Limits{Bytes: sum - 1, Objects: 6}},
		{"fewer objects", Limits{Bytes: sum, Objects: 5}},
	}
	for _, tt := range tests {
		got, err := write(pack, tt.l, 4096)
		if !errors.Is(err, ErrTooLarge) || len(got) == len(pack) {
			t.Errorf("%s: %d of %d bytes passed, %v", tt.name, len(got), len(pack), err)
		}
	}
}

// packOf is a pack of one object: its header and its zlib data.
func packOf(typ byte, size int64, data []byte) []byte {
	head := binary.BigEndian.AppendUint32([]byte("PACK\x00\x00\x00\x02"), 1)
	head = append(head, typ<<4|byte(size&0x0f))
	for s := size >> 4; s > 0; s >>= 7 {
		head[len(head)-1] |= 0x80
		head = append(head, byte(s&0x7f))
	}
	pack := append(head, data...)
	sum := sha1.Sum(pack)
	return append(pack, sum[:]...)
}

func deflate(b []byte) []byte {
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// A 2 GiB blob is refused at its header: nothing of it reaches the
// destination, and it is not inflated (that would take seconds).
func TestWriterRefusesAHugeBlobBeforeInflatingIt(t *testing.T) {
	var data bytes.Buffer
	if err := hugeblob.ZlibZeros(&data, 2<<30); err != nil {
		t.Fatal(err)
	}
	pack := packOf(typeBlob, 2<<30, data.Bytes())
	start := time.Now()
	got, err := write(pack, Limits{Bytes: 100 << 20, Objects: 1}, 64<<10)
	if !errors.Is(err, ErrTooLarge) || len(got) != 0 {
		t.Errorf("%d bytes passed, %v", len(got), err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("refusing took %s: the blob was inflated", d)
	}
}

// Hostile packs that inflate to little but lie or pad.
func TestWriterRefusesHostilePacks(t *testing.T) {
	// A REF_DELTA that rebuilds 1 TiB from a 10-byte delta.
	delta := append(make([]byte, sha1.Size), deflate([]byte{0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20})...)
	// Empty stored deflate blocks inflate to nothing: 5 bytes each.
	var padded bytes.Buffer
	padded.Write([]byte{0x78, 0x01})
	for range 1 << 20 {
		padded.Write([]byte{0x00, 0x00, 0x00, 0xff, 0xff})
	}
	padded.Write(deflate(nil)[2:]) // a final empty block and the checksum of nothing
	tests := []struct {
		name string
		pack []byte
		want error
	}{
		{"delta result too large", packOf(typeREFDelta, 8, delta), ErrTooLarge},
		{"padding", packOf(typeBlob, 0, padded.Bytes()), ErrTooLarge},
		{"longer than declared", packOf(typeBlob, 3, deflate([]byte("four"))), ErrMalformed},
		{"shorter than declared", packOf(typeBlob, 5, deflate([]byte("four"))), ErrMalformed},
		{"not a pack", []byte("GIT\x00\x00\x00\x00\x02\x00\x00\x00\x01"), ErrMalformed},
		{"cut short", packOf(typeBlob, 4, deflate([]byte("four")))[:20], ErrMalformed},
		{"unknown type", packOf(5, 4, deflate([]byte("four"))), ErrMalformed},
	}
	for _, tt := range tests {
		_, err := write(tt.pack, Limits{Bytes: 1 << 20, Objects: 1}, 4096)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}
