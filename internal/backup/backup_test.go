package backup

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/install"
)

func setup(t *testing.T) (string, *os.Root) {
	t.Helper()
	dir := t.TempDir()
	for p, content := range map[string]string{"a/x": "x1", "a/y": "y1", "b": "b1"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte(content), 0o644)
	}
	os.Symlink("a/x", filepath.Join(dir, "l"))
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return dir, root
}

func stat(t *testing.T, root *os.Root, paths ...string) []install.Node {
	t.Helper()
	var ns []install.Node
	for _, p := range paths {
		n, err := install.Stat(root, p)
		if err != nil {
			t.Fatal(err)
		}
		ns = append(ns, n)
	}
	return ns
}

var paths = []string{"a", "a/x", "a/y", "b", "l", "new", "newdir", "newdir/f"}

// TestCaptureAndRestore saves a state, changes every saved path in another
// way (content, removal, type, creation), restores and compares.
func TestCaptureAndRestore(t *testing.T) {
	dir, root := setup(t)
	before := stat(t, root, paths...)
	sum, err := Capture(context.Background(), root, "undo", Index{Version: "1.0.0", To: "1.1.0", Nodes: before})
	if err != nil {
		t.Fatal(err)
	}
	// Linked, not copied.
	a, _ := os.Stat(filepath.Join(dir, "a/x"))
	b, _ := os.Stat(filepath.Join(dir, "undo/files/a/x"))
	if !os.SameFile(a, b) {
		t.Error("backup is not a hard link")
	}
	// Change the tree the way an install does: replace by rename only.
	replace := func(p, content string) {
		tmp := filepath.Join(dir, p+".tmp")
		os.WriteFile(tmp, []byte(content), 0o755)
		os.Rename(tmp, filepath.Join(dir, p))
	}
	replace("a/x", "x2")
	os.Remove(filepath.Join(dir, "a/y"))
	os.Remove(filepath.Join(dir, "l"))
	os.Mkdir(filepath.Join(dir, "l"), 0o755)
	replace("new", "new")
	os.Mkdir(filepath.Join(dir, "newdir"), 0o755)
	replace("newdir/f", "f")

	idx, err := Load(root, "undo", sum)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // idempotent
		if err := Restore(context.Background(), root, "undo", idx, false, nil); err != nil {
			t.Fatal(err)
		}
		after := stat(t, root, paths...)
		for i := range before {
			if !install.Same(after[i], before[i]) {
				t.Errorf("%s: %+v, want %+v", paths[i], after[i], before[i])
			}
		}
	}
	if _, err := Load(root, "undo", "0000"); !errors.Is(err, ErrDamaged) {
		t.Errorf("wrong sha: %v", err)
	}
}

func TestRestoreRefusesDamagedContent(t *testing.T) {
	dir, root := setup(t)
	before := stat(t, root, paths...)
	if _, err := Capture(context.Background(), root, "undo", Index{Nodes: before}); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "a/x"))
	os.Remove(filepath.Join(dir, "undo/files/a/x"))
	os.WriteFile(filepath.Join(dir, "undo/files/a/x"), []byte("rotten"), 0o644)
	idx, _ := Load(root, "undo", "")
	if err := Restore(context.Background(), root, "undo", idx, false, nil); !errors.Is(err, install.ErrSource) {
		t.Fatalf("err = %v", err)
	}
}

// TestReadSaved: a saved file reads back as saved; one changed since, or
// a path saved as something else or not at all, does not.
func TestReadSaved(t *testing.T) {
	dir, root := setup(t)
	idx := Index{Version: "1.0.0", To: "1.1.0", Nodes: stat(t, root, paths...)}
	if _, err := Capture(context.Background(), root, "undo", idx); err != nil {
		t.Fatal(err)
	}
	if data, err := ReadSaved(root, "undo", idx, "a/x", 1<<10); err != nil || string(data) != "x1" {
		t.Errorf("a/x: %q, %v", data, err)
	}
	for _, p := range []string{"l", "new", "nowhere"} {
		if _, err := ReadSaved(root, "undo", idx, p, 1<<10); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: err = %v, want fs.ErrNotExist", p, err)
		}
	}
	os.WriteFile(filepath.Join(dir, "b"), []byte("b2"), 0o644) // in place: the saved link sees it
	if _, err := ReadSaved(root, "undo", idx, "b", 1<<10); !errors.Is(err, ErrDamaged) {
		t.Errorf("changed b: err = %v, want ErrDamaged", err)
	}
}

func TestKeepListPrune(t *testing.T) {
	dir, root := setup(t)
	nodes := stat(t, root, "b")
	for _, v := range []string{"1.0.0", "1.1.0", "1.0.0", "1.2.0"} {
		seq, err := NextSeq(root, ".hoist/backups")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Capture(context.Background(), root, ".hoist/undo", Index{Version: v, Seq: seq, Nodes: nodes}); err != nil {
			t.Fatal(err)
		}
		if err := Keep(root, ".hoist/undo", ".hoist/backups", v); err != nil {
			t.Fatal(err)
		}
		if err := Keep(root, ".hoist/undo", ".hoist/backups", v); err != nil {
			t.Fatalf("second Keep: %v", err)
		}
	}
	os.MkdirAll(filepath.Join(dir, ".hoist/backups/broken"), 0o700)
	kept, damaged, err := List(root, ".hoist/backups")
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, k := range kept {
		order = append(order, k.Index.Version)
	}
	if got := filepath.Join(order...); got != filepath.Join("1.2.0", "1.0.0", "1.1.0") || len(damaged) != 1 {
		t.Fatalf("order %v, damaged %v", order, damaged)
	}
	if err := Prune(root, ".hoist/backups", 2, root.RemoveAll); err != nil {
		t.Fatal(err)
	}
	kept, damaged, _ = List(root, ".hoist/backups")
	if len(kept) != 2 || kept[1].Index.Version != "1.0.0" || len(damaged) != 0 {
		t.Fatalf("after prune: %+v %v", kept, damaged)
	}
}

// TestCompared: the time of the comparison comes back from the index, and
// does not change its content (its sha256 is journaled).
func TestCompared(t *testing.T) {
	_, root := setup(t)
	before := stat(t, root, "a/x")
	compared := time.Now().Add(-time.Hour).Truncate(time.Second)
	plain, err := Capture(context.Background(), root, "undo1", Index{Version: "1.0.0", To: "1.1.0", Nodes: before})
	if err != nil {
		t.Fatal(err)
	}
	dated, err := Capture(context.Background(), root, "undo2", Index{Version: "1.0.0", To: "1.1.0", Nodes: before, Compared: compared})
	if err != nil {
		t.Fatal(err)
	}
	if plain != dated {
		t.Errorf("the comparison time changed the index: %s, %s", plain, dated)
	}
	idx, err := Load(root, "undo2", dated)
	if err != nil {
		t.Fatal(err)
	}
	if !idx.Compared.Equal(compared) {
		t.Errorf("Compared = %v, want %v", idx.Compared, compared)
	}
}
