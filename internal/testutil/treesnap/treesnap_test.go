package treesnap

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// sample makes a tree with one entry of each kind.
func sample(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "d/skipme"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "d/f"), []byte("content"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "d/skipme/x"), []byte("x"), 0o644))
	must(os.Symlink("d/f", filepath.Join(dir, "l")))
	must(syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	return dir
}

// TestTakeSeesEveryChange changes one property of the sample tree at a time
// and checks the snapshot tells, and says where.
func TestTakeSeesEveryChange(t *testing.T) {
	changes := []struct {
		name, path string
		change     func(dir string) error
	}{
		{"content", "d/f", func(dir string) error { return os.WriteFile(filepath.Join(dir, "d/f"), []byte("contenT"), 0o644) }},
		{"mode", "d/f", func(dir string) error { return os.Chmod(filepath.Join(dir, "d/f"), 0o4755) }},
		{"owner", "d/f", func(dir string) error { return os.Lchown(filepath.Join(dir, "d/f"), 1234, 1234) }},
		{"link target", "l", func(dir string) error {
			os.Remove(filepath.Join(dir, "l"))
			return os.Symlink("d/g", filepath.Join(dir, "l"))
		}},
		{"type", "fifo", func(dir string) error {
			os.Remove(filepath.Join(dir, "fifo"))
			return os.WriteFile(filepath.Join(dir, "fifo"), nil, 0o600)
		}},
		{"dir mode", "d", func(dir string) error { return os.Chmod(filepath.Join(dir, "d"), 0o1777) }},
		{"new file", "new", func(dir string) error { return os.WriteFile(filepath.Join(dir, "new"), nil, 0o644) }},
		{"removed", "d/f", func(dir string) error { return os.Remove(filepath.Join(dir, "d/f")) }},
	}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			dir := sample(t)
			before := Take(t, dir, "d/skipme")
			if d := Diff(Take(t, dir, "d/skipme"), before); d != "" {
				t.Fatalf("two snapshots of one tree differ:\n%s", d)
			}
			if err := c.change(dir); err != nil {
				if c.name == "owner" {
					t.Skipf("cannot chown (not root): %v", err)
				}
				t.Fatal(err)
			}
			d := Diff(Take(t, dir, "d/skipme"), before)
			if !strings.Contains(d, " "+c.path+":") {
				t.Errorf("diff does not name %s:\n%s", c.path, d)
			}
		})
	}
}

func TestSkipLeavesOutWholeSubtrees(t *testing.T) {
	dir := sample(t)
	tree := Take(t, dir, "d/skipme", "fifo")
	for _, p := range []string{"d/skipme", "d/skipme/x", "fifo"} {
		if _, ok := tree[p]; ok {
			t.Errorf("%s not skipped", p)
		}
	}
	if !strings.HasPrefix(tree["d/f"], "file 0644 ") || tree["l"] != "link d/f" || !strings.HasPrefix(tree["d"], "dir 0755 ") {
		t.Errorf("snapshot %q", tree)
	}
}

func TestDiffIsCapped(t *testing.T) {
	want := Tree{}
	for i := range 100 {
		want[strings.Repeat("p", i+1)] = "file"
	}
	lines := strings.Split(Diff(Tree{}, want), "\n")
	if len(lines) != maxDiffLines+1 || !strings.Contains(lines[maxDiffLines], "70 more") {
		t.Errorf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
}
