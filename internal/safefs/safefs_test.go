package safefs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func openRoot(t *testing.T) (string, *os.Root) {
	t.Helper()
	dir := t.TempDir()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return dir, r
}

func TestWriteThenRead(t *testing.T) {
	dir, r := openRoot(t)
	if err := WriteFile(r, "a.json", []byte("one"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(r, "a.json", []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(r, "a.json", 10)
	if err != nil || string(got) != "two" {
		t.Fatalf("ReadFile = %q, %v", got, err)
	}
	fi, _ := os.Stat(filepath.Join(dir, "a.json"))
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, want 0644", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("leftover temp files: %v", entries)
	}
}

func TestWriteReplacesSymlinkInsteadOfFollowing(t *testing.T) {
	dir, r := openRoot(t)
	outside := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(outside, []byte("precious"), 0o600)
	os.Symlink(outside, filepath.Join(dir, "s.json"))
	if err := WriteFile(r, "s.json", []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "precious" {
		t.Errorf("write followed the symlink: victim now %q", b)
	}
	if fi, _ := os.Lstat(filepath.Join(dir, "s.json")); !fi.Mode().IsRegular() {
		t.Errorf("name is still %v", fi.Mode())
	}
}

func TestReadRefusesHostileFiles(t *testing.T) {
	dir, r := openRoot(t)
	os.WriteFile(filepath.Join(dir, "real"), []byte("x"), 0o644)
	os.Symlink("real", filepath.Join(dir, "link"))
	os.Link(filepath.Join(dir, "real"), filepath.Join(dir, "hard"))
	syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "big"), []byte(strings.Repeat("x", 11)), 0o644)
	tests := []struct {
		name string
		want error
	}{
		{"link", ErrNotRegular},
		{"hard", ErrHardLink},
		{"fifo", ErrNotRegular},
		{"sub", ErrNotRegular},
		{"big", ErrTooLarge},
		{"missing", fs.ErrNotExist},
		{"../escape", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadFile(r, tt.name, 10)
			if err == nil {
				t.Fatal("read succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}
