package install

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hoist-dev/hoist/internal/testutil/fdleak"
)

func open(t *testing.T, dir string) *os.Root {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// tree creates dir's content: "x/" a directory, "l -> t" a symlink, else a
// file with that content (mode 0755 if the name ends in .sh).
func tree(t *testing.T, dir string, spec map[string]string) {
	t.Helper()
	for p, content := range spec {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		switch {
		case strings.HasSuffix(p, "/"):
			os.MkdirAll(full, 0o755)
		case strings.HasPrefix(content, "-> "):
			if err := os.Symlink(strings.TrimPrefix(content, "-> "), full); err != nil {
				t.Fatal(err)
			}
		default:
			mode := os.FileMode(0o644)
			if strings.HasSuffix(p, ".sh") {
				mode = 0o755
			}
			if err := os.WriteFile(full, []byte(content), mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(full, mode)
		}
	}
}

// nodes stats paths of root.
func nodes(t *testing.T, root *os.Root, paths ...string) []Node {
	t.Helper()
	var ns []Node
	for _, p := range paths {
		n, err := Stat(root, p)
		if err != nil {
			t.Fatal(err)
		}
		ns = append(ns, n)
	}
	return ns
}

func checkSame(t *testing.T, root *os.Root, want []Node) {
	t.Helper()
	for _, w := range want {
		got, err := Stat(root, w.Path)
		if err != nil {
			t.Fatal(err)
		}
		if !Same(got, w) || (w.Kind == Dir && got.Mode != w.Mode) {
			t.Errorf("%s: got %+v, want %+v", w.Path, got, w)
		}
	}
}

// setup makes a root with a source directory "src" holding the wanted tree
// and a live tree, and returns the wanted nodes read from src.
func setup(t *testing.T, live map[string]string) (string, *os.Root, []Node) {
	t.Helper()
	dir := t.TempDir()
	tree(t, filepath.Join(dir, "src"), map[string]string{
		"a/b/c.txt": "c", "a/run.sh": "#!/bin/sh", "l": "-> a/b", "d/": "", "f": "now a file",
	})
	tree(t, dir, live)
	root := open(t, dir)
	src := open(t, filepath.Join(dir, "src"))
	want := nodes(t, src, "a", "a/b", "a/b/c.txt", "a/run.sh", "l", "d", "f")
	return dir, root, want
}

func TestApplyFreshAndIdempotent(t *testing.T) {
	dir, root, want := setup(t, nil)
	for range 2 {
		if err := Apply(context.Background(), root, want, Options{From: "src"}); err != nil {
			t.Fatal(err)
		}
		checkSame(t, root, want)
	}
	// Hard-linked by default: no copy made.
	a, _ := os.Stat(filepath.Join(dir, "a/b/c.txt"))
	b, _ := os.Stat(filepath.Join(dir, "src/a/b/c.txt"))
	if !os.SameFile(a, b) {
		t.Error("not hard-linked")
	}
}

func TestApplyCopy(t *testing.T) {
	dir, root, want := setup(t, nil)
	if err := Apply(context.Background(), root, want, Options{From: "src", Copy: true}); err != nil {
		t.Fatal(err)
	}
	checkSame(t, root, want)
	a, _ := os.Stat(filepath.Join(dir, "a/b/c.txt"))
	b, _ := os.Stat(filepath.Join(dir, "src/a/b/c.txt"))
	if os.SameFile(a, b) {
		t.Error("copy is a hard link")
	}
}

// TestApplyCopyShared links sources with one link and copies those with
// others (a staged file linked from the object cache).
func TestApplyCopyShared(t *testing.T) {
	dir, root, want := setup(t, nil)
	shared, single := filepath.Join(dir, "src/a/b/c.txt"), filepath.Join(dir, "src/a/run.sh")
	if err := os.Link(shared, filepath.Join(dir, "object")); err != nil {
		t.Fatal(err)
	}
	if err := Apply(context.Background(), root, want, Options{From: "src", CopyShared: true}); err != nil {
		t.Fatal(err)
	}
	checkSame(t, root, want)
	for _, tc := range []struct {
		src, dst string
		linked   bool
	}{{shared, "a/b/c.txt", false}, {single, "a/run.sh", true}} {
		a, _ := os.Stat(filepath.Join(dir, tc.dst))
		b, _ := os.Stat(tc.src)
		if os.SameFile(a, b) != tc.linked {
			t.Errorf("%s: linked to its source %v, want %v", tc.dst, !tc.linked, tc.linked)
		}
	}
}

// TestTypeChanges turns a directory into a file, a file into a directory
// and a symlink into a directory, and removes what is wanted absent.
func TestTypeChanges(t *testing.T) {
	_, root, want := setup(t, map[string]string{
		"f/old.txt": "old", // directory where a file is wanted
		"d":         "a file where a directory is wanted",
		"a":         "-> elsewhere", // symlink where a directory is wanted
		"gone.txt":  "to remove",
		"gonedir/x": "to remove",
		"keep/user": "the user's",
	})
	want = append(want,
		Node{Path: "f/old.txt", Kind: Absent}, Node{Path: "gone.txt", Kind: Absent},
		Node{Path: "gonedir/x", Kind: Absent}, Node{Path: "gonedir", Kind: Absent},
		Node{Path: "keep", Kind: Absent})
	if err := Apply(context.Background(), root, want, Options{From: "src"}); err != nil {
		t.Fatal(err)
	}
	checkSame(t, root, want[:7])
	for _, p := range []string{"gone.txt", "gonedir"} {
		if _, err := root.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there: %v", p, err)
		}
	}
	if _, err := root.Lstat("keep/user"); err != nil {
		t.Errorf("the user's file went: %v", err)
	}
}

func TestConflictAndSourceMismatch(t *testing.T) {
	_, root, want := setup(t, map[string]string{"f/user.txt": "not listed"})
	err := Apply(context.Background(), root, want, Options{From: "src"})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("non-empty dir: err = %v", err)
	}
	_, root, want = setup(t, nil)
	want[2].SHA256 = strings.Repeat("0", 64)
	if err := Apply(context.Background(), root, want, Options{From: "src"}); !errors.Is(err, ErrSource) {
		t.Fatalf("bad source: err = %v", err)
	}
	if _, err := root.Lstat("a/b/c.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("mismatching content installed: %v", err)
	}
}

// TestNeverWritesThroughSymlink: a live symlink to outside where a parent
// directory is expected must not lead a write outside.
func TestNeverWritesThroughSymlink(t *testing.T) {
	outside := t.TempDir()
	dir := t.TempDir()
	tree(t, filepath.Join(dir, "src"), map[string]string{"a/x": "x"})
	os.Symlink(outside, filepath.Join(dir, "a"))
	root := open(t, dir)
	if n, _ := Stat(root, "a/x"); n.Kind != Absent {
		t.Errorf("Stat below a symlink = %+v", n)
	}
	want := nodes(t, open(t, filepath.Join(dir, "src")), "a/x")
	if err := Apply(context.Background(), root, want, Options{From: "src"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("err = %v", err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("wrote outside: %v", ents)
	}
}

func TestSweepsLeftovers(t *testing.T) {
	_, root, want := setup(t, map[string]string{"a/b/.hoist-tmp-c.txt-0123": "torn", "gonedir/.hoist-tmp-x-1": "torn"})
	want = append(want, Node{Path: "gonedir", Kind: Absent}, Node{Path: "gonedir/x", Kind: Absent})
	if err := Apply(context.Background(), root, want, Options{From: "src"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"a/b/.hoist-tmp-c.txt-0123", "gonedir"} {
		if _, err := root.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left: %v", p, err)
		}
	}
}

// TestStaleEntryFailsClosed: an entry whose directory the Tree closed
// (forget, trim) fails with os.ErrClosed; it never reaches the directory
// that reused the descriptor number.
func TestStaleEntryFailsClosed(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string]string{"a/b/f": "x"})
	other := t.TempDir()
	tr := NewTree(open(t, dir))
	defer tr.Close()
	e, err := tr.at("a/b/new", false)
	if err != nil {
		t.Fatal(err)
	}
	tr.forget("a/b")
	// The next descriptor gets the number the entry's directory had.
	d, err := os.Open(other)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := tr.mkdir(e, 0o755); !errors.Is(err, os.ErrClosed) {
		t.Errorf("mkdir through a stale entry: %v, want os.ErrClosed", err)
	}
	if _, err := e.lstat(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("lstat through a stale entry: %v, want os.ErrClosed", err)
	}
	if ents, _ := os.ReadDir(other); len(ents) != 0 {
		t.Errorf("wrote into another directory: %v", ents)
	}
}

func TestStatKeepsSpecialModes(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string]string{"s": "x", "src/s": "x"})
	os.Chmod(filepath.Join(dir, "s"), 0o750|fs.ModeSetuid)
	root := open(t, dir)
	n := nodes(t, root, "s")[0]
	if n.Mode != 0o750|fs.ModeSetuid {
		t.Fatalf("mode %v", n.Mode)
	}
	// Restoring that state onto a 0644 copy must bring the mode back too.
	os.Chmod(filepath.Join(dir, "src/s"), 0o750|fs.ModeSetuid)
	os.Remove(filepath.Join(dir, "s"))
	os.WriteFile(filepath.Join(dir, "s"), []byte("x"), 0o644)
	if err := Apply(context.Background(), root, []Node{n}, Options{From: "src"}); err != nil {
		t.Fatal(err)
	}
	checkSame(t, root, []Node{n})
}

// TestParentSwappedBetweenApplies: a directory that an earlier Apply
// created and that was then replaced by a symlink is refused by the next
// one, as every Apply opens its directories anew.
func TestParentSwappedBetweenApplies(t *testing.T) {
	outside := t.TempDir()
	dir := t.TempDir()
	tree(t, filepath.Join(dir, "src"), map[string]string{"a/x": "x"})
	root := open(t, dir)
	want := nodes(t, open(t, filepath.Join(dir, "src")), "a/x")
	if err := Apply(context.Background(), root, want, Options{From: "src"}); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "a"), filepath.Join(outside, "a")); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(outside, "a", "x"))
	if err := os.Symlink(filepath.Join(outside, "a"), filepath.Join(dir, "a")); err != nil {
		t.Fatal(err)
	}
	if err := Apply(context.Background(), root, want, Options{From: "src"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("err = %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(outside, "a")); len(ents) != 0 {
		t.Fatalf("wrote through the symlink: %v", ents)
	}
}

// TestParentSwappedDuringApply: a directory moved away and replaced by a
// symlink while Apply writes into it. Apply keeps writing into the real
// directory it opened (now moved), never through the symlink.
func TestParentSwappedDuringApply(t *testing.T) {
	outside, moved := t.TempDir(), filepath.Join(t.TempDir(), "moved")
	dir := t.TempDir()
	spec := map[string]string{}
	var paths []string
	for i := range 10 {
		p := fmt.Sprintf("d/f%d", i)
		spec[p] = p
		paths = append(paths, p)
	}
	tree(t, filepath.Join(dir, "src"), spec)
	root := open(t, dir)
	want := nodes(t, open(t, filepath.Join(dir, "src")), paths...)
	swap := func(done, total int) {
		if done != 3 {
			return
		}
		if err := os.Rename(filepath.Join(dir, "d"), moved); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, filepath.Join(dir, "d")); err != nil {
			t.Fatal(err)
		}
	}
	if err := Apply(context.Background(), root, want, Options{From: "src", Progress: swap}); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("wrote through the symlink: %v", ents)
	}
	if ents, _ := os.ReadDir(moved); len(ents) != len(paths) {
		t.Errorf("the opened directory holds %d files, want %d", len(ents), len(paths))
	}
	if n, err := Stat(root, "d/f9"); err != nil || n.Kind != Absent {
		t.Errorf("Stat below the symlink = %+v, %v", n, err)
	}
}

// TestManyDirectories goes past maxOpenDirs, so that Apply and Tree.Stat
// close and reopen directories, and checks no descriptor is left open.
func TestManyDirectories(t *testing.T) {
	dir := t.TempDir()
	spec := map[string]string{}
	var paths []string
	for i := range maxOpenDirs + 50 {
		p := fmt.Sprintf("a/d%03d/f", i)
		spec[p] = p
		paths = append(paths, p)
	}
	tree(t, filepath.Join(dir, "src"), spec)
	root := open(t, dir)
	src := NewTree(open(t, filepath.Join(dir, "src")))
	defer src.Close()
	var want []Node
	for _, p := range paths {
		n, err := src.Stat(p)
		if err != nil || n.Kind != File {
			t.Fatalf("%s: %+v, %v", p, n, err)
		}
		want = append(want, n)
	}
	checkLeaks := fdleak.Watch(t, dir)
	if err := Apply(context.Background(), root, want, Options{From: "src", To: "live"}); err != nil {
		t.Fatal(err)
	}
	checkLeaks("Apply")
	live := open(t, filepath.Join(dir, "live"))
	checkSame(t, live, want)
}

// TestPathsLeavingRootRefused: Tree walks names itself, so ".." must be
// refused rather than followed up.
func TestPathsLeavingRootRefused(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "root")
	tree(t, dir, map[string]string{"src/x": "x"})
	root := open(t, dir)
	if _, err := Stat(root, "../root/src/x"); err == nil {
		t.Error("Stat of ../ succeeded")
	}
	n := nodes(t, open(t, filepath.Join(dir, "src")), "x")[0]
	n.Path = "../escaped"
	if err := Apply(context.Background(), root, []Node{n}, Options{From: "src"}); err == nil {
		t.Error("Apply of ../ succeeded")
	}
	if _, err := os.Lstat(filepath.Join(parent, "escaped")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("wrote outside the root: %v", err)
	}
}

// TestFifoRefused: a fifo is neither stated as a node nor installed from,
// and opening it never blocks.
func TestFifoRefused(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string]string{"src/f": "content"})
	root := open(t, dir)
	n := nodes(t, root, "src/f")[0]
	n.Path = "f"
	os.Remove(filepath.Join(dir, "src/f"))
	if err := syscall.Mkfifo(filepath.Join(dir, "src/f"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Stat(root, "src/f"); err == nil || !strings.Contains(err.Error(), "fifo") {
		t.Errorf("Stat of a fifo: %v", err)
	}
	if err := Apply(context.Background(), root, []Node{n}, Options{From: "src"}); !errors.Is(err, ErrSource) {
		t.Errorf("Apply from a fifo: %v", err)
	}
}

// TestTreeLstat stats without reading, and never through a symlink.
func TestTreeLstat(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string]string{"a/f": "x", "l": "-> a"})
	tr := NewTree(open(t, dir))
	defer tr.Close()
	for p, want := range map[string]uint32{"a/f": syscall.S_IFREG, "a": syscall.S_IFDIR, "l": syscall.S_IFLNK} {
		st, err := tr.Lstat(p)
		if err != nil || st.Mode&syscall.S_IFMT != want {
			t.Errorf("Lstat(%s) = %o, %v; want type %o", p, st.Mode, err, want)
		}
	}
	for _, p := range []string{"l/f", "a/missing", "a/f/below"} {
		if _, err := tr.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Lstat(%s) = %v, want ErrNotExist", p, err)
		}
	}
}
