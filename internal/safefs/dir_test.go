package safefs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestSweepManyEntries: a directory far larger than one listing batch,
// its temp files spread among the others, is swept in full while it is
// being listed, and nothing else in it is touched.
func TestSweepManyEntries(t *testing.T) {
	dir, root := openRoot(t)
	sub := filepath.Join(dir, "statuses")
	os.Mkdir(sub, 0o755)
	keep := map[string]bool{}
	for i := range 5000 {
		name := fmt.Sprintf("file-%04d", i)
		if i%16 == 0 {
			name = TempPrefix + name
		} else {
			keep[name] = true
		}
		if err := os.WriteFile(filepath.Join(sub, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A temp directory is someone's work in progress, never swept.
	tmpDir := TempPrefix + "clone"
	os.Mkdir(filepath.Join(sub, tmpDir), 0o755)
	keep[tmpDir] = true
	if err := Sweep(root, "statuses"); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(sub)
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range ents {
		if !keep[ent.Name()] {
			t.Errorf("%s left", ent.Name())
		}
		delete(keep, ent.Name())
	}
	if len(keep) != 0 {
		t.Errorf("%d entries removed that were not temp files", len(keep))
	}
}

// TestSweepRefusesSymlinks: a directory reached through a symlink, or
// one that is missing or a file, is not swept, and that is no error.
func TestSweepRefusesSymlinks(t *testing.T) {
	dir, root := openRoot(t)
	real := filepath.Join(dir, "real")
	os.Mkdir(real, 0o755)
	leftover := filepath.Join(real, TempPrefix+"x")
	os.WriteFile(leftover, nil, 0o644)
	os.Symlink("real", filepath.Join(dir, "link"))
	os.WriteFile(filepath.Join(dir, "file"), nil, 0o644)
	for _, d := range []string{"link", "link/", "file", "missing", "missing/sub"} {
		if err := Sweep(root, d); err != nil {
			t.Errorf("Sweep(%q): %v", d, err)
		}
	}
	if _, err := os.Lstat(leftover); err != nil {
		t.Errorf("swept through a symlink: %v", err)
	}
	if err := Sweep(root, "../x"); err == nil {
		t.Error("Sweep of a path leaving the root succeeded")
	}
}

// TestControlFailsClosed: once a file is closed, Control fails with
// os.ErrClosed instead of running on a descriptor number reused since.
func TestControlFailsClosed(t *testing.T) {
	f, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	ran := false
	if err := Control(f, func(int) error { ran = true; return nil }); !errors.Is(err, os.ErrClosed) || ran {
		t.Errorf("Control on a closed file: %v (ran %v), want os.ErrClosed", err, ran)
	}
}
