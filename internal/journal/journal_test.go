package journal

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func openRoot(t *testing.T) (*os.Root, string) {
	t.Helper()
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root, dir
}

func payloads(n int) [][]byte {
	var ps [][]byte
	for i := range n {
		ps = append(ps, []byte(fmt.Sprintf(`{"step":"s%d","pad":%q}`, i, bytes.Repeat([]byte("x"), i*7))))
	}
	return ps
}

// write creates a journal holding ps and returns the file's path.
func write(t *testing.T, root *os.Root, dir string, ps [][]byte) string {
	t.Helper()
	j, err := Create(root, "journal")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if err := j.Append(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "journal")
}

func reopen(t *testing.T, root *os.Root) (*Journal, [][]byte) {
	t.Helper()
	j, recs, err := Open(root, "journal")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { j.Close() })
	return j, recs
}

func equal(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestAppendAndReopen(t *testing.T) {
	root, dir := openRoot(t)
	ps := payloads(5)
	write(t, root, dir, ps[:3])
	j, recs := reopen(t, root)
	if !equal(recs, ps[:3]) || j.Truncated != 0 {
		t.Fatalf("records = %q (truncated %d), want %q", recs, j.Truncated, ps[:3])
	}
	for _, p := range ps[3:] {
		if err := j.Append(p); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	if _, recs := reopen(t, root); !equal(recs, ps) {
		t.Fatalf("after second session: %q", recs)
	}
}

// TestBatches: records given to Create and to one Append read back in
// order, after those of earlier appends, and a batch cut anywhere inside
// its last record keeps the ones before.
func TestBatches(t *testing.T) {
	root, dir := openRoot(t)
	ps := payloads(6)
	j, err := Create(root, "journal", ps[:2]...)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(ps[2]); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(ps[3:]...); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if _, recs := reopen(t, root); !equal(recs, ps) {
		t.Fatalf("records = %q, want %q", recs, ps)
	}
	path := filepath.Join(dir, "journal")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data[:len(data)-1], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, recs := reopen(t, root); !equal(recs, ps[:5]) {
		t.Fatalf("torn batch: records = %q, want the first 5", recs)
	}
	if _, err := Create(root, "journal", ps[0], nil); !errors.Is(err, ErrRecordSize) {
		t.Errorf("Create with an empty record: %v", err)
	}
}

func TestCreateReplacesOldJournal(t *testing.T) {
	root, dir := openRoot(t)
	write(t, root, dir, payloads(4))
	write(t, root, dir, payloads(1))
	if _, recs := reopen(t, root); !equal(recs, payloads(1)) {
		t.Fatalf("records = %q", recs)
	}
}

// TestTornTail cuts a real journal file at every length inside its last
// record, as a crash in the middle of the write would, and checks that the
// earlier records survive, the tail is cut off and appending works again.
func TestTornTail(t *testing.T) {
	root, dir := openRoot(t)
	ps := payloads(4)
	path := write(t, root, dir, ps)
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lastStart := len(full) - recordHeader - len(ps[3])
	for cut := lastStart + 1; cut < len(full); cut++ {
		if err := os.WriteFile(path, full[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		j, recs := reopen(t, root)
		if !equal(recs, ps[:3]) || j.Truncated != int64(cut-lastStart) {
			t.Fatalf("cut at %d: records %d, truncated %d", cut, len(recs), j.Truncated)
		}
		if err := j.Append([]byte("after")); err != nil {
			t.Fatal(err)
		}
		j.Close()
		if _, recs := reopen(t, root); !equal(recs, append(ps[:3:3], []byte("after"))) {
			t.Fatalf("cut at %d: after append: %q", cut, recs)
		}
	}
}

// TestCorruptByte flips every byte of a real journal file in turn: replay
// must return a prefix of the records, never more, never panic.
func TestCorruptByte(t *testing.T) {
	root, dir := openRoot(t)
	ps := payloads(3)
	path := write(t, root, dir, ps)
	full, _ := os.ReadFile(path)
	for i := range full {
		bad := bytes.Clone(full)
		bad[i] ^= 0x40
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		j, recs, err := Open(root, "journal")
		if i < len(magic) {
			if !errors.Is(err, ErrNotJournal) {
				t.Fatalf("byte %d (header): err = %v", i, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("byte %d: %v", i, err)
		}
		j.Close()
		if len(recs) >= len(ps) || !equal(recs, ps[:len(recs)]) {
			t.Fatalf("byte %d: got %d records, want a strict prefix of %d", i, len(recs), len(ps))
		}
	}
}

func TestMissingAndForeignFiles(t *testing.T) {
	root, dir := openRoot(t)
	if _, _, err := Open(root, "journal"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "journal"), []byte("{\"not\":\"a journal\"}"), 0o600)
	if _, _, err := Open(root, "journal"); !errors.Is(err, ErrNotJournal) {
		t.Fatalf("foreign: %v", err)
	}
}

func TestRecordSize(t *testing.T) {
	root, _ := openRoot(t)
	j, err := Create(root, "journal")
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for _, n := range []int{0, MaxRecord + 1} {
		if err := j.Append(make([]byte, n)); !errors.Is(err, ErrRecordSize) {
			t.Errorf("%d bytes: err = %v", n, err)
		}
	}
	if err := j.Append(make([]byte, MaxRecord)); err != nil {
		t.Errorf("MaxRecord bytes: %v", err)
	}
}

// TestReorderedRecordsFail swaps two valid records: each is intact, but the
// CRC chain ties it to its position.
func TestReorderedRecordsFail(t *testing.T) {
	seed := crc32.Checksum([]byte(magic), table)
	a, crcA := encode(nil, seed, []byte("first"))
	b, _ := encode(nil, crcA, []byte("second"))
	data := append(append([]byte(magic), b...), a...)
	recs, valid, err := Replay(data)
	if len(recs) != 0 || valid != len(magic) || !errors.Is(err, ErrTorn) {
		t.Fatalf("reordered: %d records, valid %d, err %v", len(recs), valid, err)
	}
}

// FuzzReplay checks on arbitrary bytes that Replay never panics and that
// what it accepts is exactly what encoding its records again produces.
func FuzzReplay(f *testing.F) {
	seed := crc32.Checksum([]byte(magic), table)
	data := []byte(magic)
	crc := seed
	for _, p := range payloads(3) {
		data, crc = encode(data, crc, p)
	}
	f.Add(data)
	f.Add(data[:len(data)-3])
	f.Add([]byte(magic))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, valid, err := Replay(data)
		if valid < 0 || valid > len(data) {
			t.Fatalf("valid = %d of %d", valid, len(data))
		}
		if err == nil && valid != len(data) {
			t.Fatalf("no error but only %d of %d bytes valid", valid, len(data))
		}
		if errors.Is(err, ErrNotJournal) {
			return
		}
		again := []byte(magic)
		crc := seed
		for _, r := range recs {
			again, crc = encode(again, crc, r)
		}
		if !bytes.Equal(again, data[:valid]) {
			t.Fatalf("re-encoding %d records does not give the valid prefix", len(recs))
		}
	})
}
