package iobuf

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
)

func TestCopy(t *testing.T) {
	for _, n := range []int{0, 1, size - 1, size, 3*size + 7} {
		data := make([]byte, n)
		rand.Read(data)
		var out bytes.Buffer
		got, err := Copy(&out, bytes.NewReader(data))
		if err != nil || got != int64(n) || !bytes.Equal(out.Bytes(), data) {
			t.Errorf("Copy of %d bytes: got %d bytes, err %v, equal %v", n, got, err, bytes.Equal(out.Bytes(), data))
		}
	}
}

// TestCopyFileToHashDoesNotAllocateBuffers is the reason for the package:
// io.Copy from a file into a hash allocates 32 KiB per call.
func TestCopyFileToHashDoesNotAllocateBuffers(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, make([]byte, 100<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	allocs := testing.AllocsPerRun(50, func() {
		f.Seek(0, 0)
		h.Reset()
		if _, err := Copy(h, f); err != nil {
			t.Fatal(err)
		}
	})
	// The two interface wrappers may escape; a 64 KiB buffer must not.
	if allocs > 3 {
		t.Errorf("Copy allocates %.0f times per call", allocs)
	}
	mem := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			f.Seek(0, 0)
			Copy(h, f)
		}
	})
	if per := mem.AllocedBytesPerOp(); per > 1024 {
		t.Errorf("Copy allocates %d bytes per call", per)
	}
}
