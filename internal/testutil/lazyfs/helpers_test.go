package lazyfs

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// put replaces the content of path in place (no atomic replace), fsyncing
// the file if sync is set.
func put(t *testing.T, path, content string, sync bool) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
}

// syncDir fsyncs the directory path.
func syncDir(t *testing.T, path string) {
	t.Helper()
	d, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
}

// durable creates the files name → content in dir and makes them durable.
func durable(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		put(t, filepath.Join(dir, name), content, true)
	}
	syncDir(t, dir)
}

func cut(t *testing.T, f *FS) {
	t.Helper()
	if err := f.PowerCut(); err != nil {
		t.Fatal(err)
	}
}

// tree lists everything below dir: a file as its content, a directory as
// "/", a symlink as "-> target".
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		switch d.Type() {
		case fs.ModeDir:
			out[rel] = "/"
		case fs.ModeSymlink:
			target, err := os.Readlink(path)
			out[rel] = "-> " + target
			return err
		default:
			b, err := os.ReadFile(path)
			out[rel] = string(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
