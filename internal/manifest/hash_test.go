package manifest

import (
	"os"
	"path/filepath"
	"testing"
)

// TestHashFileRefusesSymlink: os.Root follows a symlink that stays inside
// the root even when asked not to, so hashFile must notice that the name
// is not the file it opened (a file swapped for a link after an Lstat).
func TestHashFileRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("f", filepath.Join(dir, "l")); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if _, _, err := hashFile(root, "f"); err != nil {
		t.Fatalf("regular file: %v", err)
	}
	if sum, _, err := hashFile(root, "l"); err == nil {
		t.Errorf("symlink hashed as its target: %s", sum)
	}
}
