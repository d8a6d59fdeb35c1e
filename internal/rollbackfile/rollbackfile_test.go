package rollbackfile

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestReadWrite(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if s, err := Read(root); err != nil || len(s.Backups)+len(s.RolledBackFrom) != 0 {
		t.Errorf("missing file: %+v, %v", s, err)
	}
	var s State
	for i := range MaxVersions + 5 {
		s.NoteRolledBackFrom(fmt.Sprintf("1.%d.0", i))
	}
	s.NoteRolledBackFrom("1.3.0") // again: moves to the front, no duplicate
	s.Installed("1.4.0")
	s.Backups = []string{"1.0.0"}
	if err := Write(root, s); err != nil {
		t.Fatal(err)
	}
	got, err := Read(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.RolledBackFrom) != MaxVersions || got.RolledBackFrom[0] != "1.3.0" || got.WasRolledBackFrom("1.4.0") ||
		!got.WasRolledBackFrom("1.36.0") || !slices.Equal(got.Backups, []string{"1.0.0"}) {
		t.Errorf("read back %+v", got)
	}

	// What the manager may have planted is refused.
	for name, content := range map[string]string{
		"bad version": `{"backups":["../../etc"],"rolled_back_from":[]}`,
		"not json":    `{`,
	} {
		os.WriteFile(filepath.Join(dir, Name), []byte(content), 0o644)
		if _, err := Read(root); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	os.Remove(filepath.Join(dir, Name))
	os.Symlink("/etc/passwd", filepath.Join(dir, Name))
	if _, err := Read(root); err == nil {
		t.Error("symlink followed")
	}
}
