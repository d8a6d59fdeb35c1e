package engine

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/install"
	"github.com/hoist-dev/hoist/internal/manifest"
)

// TestUnchangedSince: only a regular file listed alike before and after,
// with its mode, whose inode changed before the comparison, is skipped by
// the check after a rollback; anything else is hashed.
func TestUnchangedSince(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.txt", filepath.Join(dir, "l")); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	live := install.NewTree(root)
	defer live.Close()
	file := manifest.Entry{Path: "a.txt", SHA256: "aa", Mode: "0644"}
	link := manifest.Entry{Path: "l", Link: "a.txt"}
	prev := &manifest.Manifest{Files: []manifest.Entry{file, link}}
	later, earlier := time.Now().Add(time.Second), time.Now().Add(-time.Second)
	for _, tc := range []struct {
		name     string
		f        manifest.Entry
		prev     *manifest.Manifest
		compared time.Time
		want     bool
	}{
		{"unchanged since the comparison", file, prev, later, true},
		{"changed after the comparison", file, prev, earlier, false},
		{"never compared", file, prev, time.Time{}, false},
		{"no previous manifest", file, nil, later, false},
		{"listed otherwise before", manifest.Entry{Path: "a.txt", SHA256: "bb", Mode: "0644"}, prev, later, false},
		{"other mode", manifest.Entry{Path: "a.txt", SHA256: "aa", Mode: "0755"}, &manifest.Manifest{Files: []manifest.Entry{{Path: "a.txt", SHA256: "aa", Mode: "0755"}}}, later, false},
		{"symlink", link, prev, later, false},
		{"missing", manifest.Entry{Path: "gone", SHA256: "aa", Mode: "0644"}, &manifest.Manifest{Files: []manifest.Entry{{Path: "gone", SHA256: "aa", Mode: "0644"}}}, later, false},
	} {
		if got := unchangedSince(live, tc.f, tc.prev, tc.compared); got != tc.want {
			t.Errorf("%s: unchangedSince = %v, want %v", tc.name, got, tc.want)
		}
	}
}
