package nodeid

import (
	"os"
	"path/filepath"
	"testing"
)

func openRoot(t *testing.T) (*os.Root, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "statuses"), 0o755); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root, dir
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestEnsureMakesKeepsAndCopies(t *testing.T) {
	root, dir := openRoot(t)
	id, err := Ensure(root, "host-a")
	if err != nil || !Valid(id) {
		t.Fatalf("Ensure = %q, %v", id, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, File)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v, want mode 0600", File, fi.Mode(), err)
	}
	if got := readFile(t, filepath.Join(dir, Copy)); got != id+"\n" {
		t.Fatalf("copy = %q, want %q", got, id)
	}
	again, err := Ensure(root, "host-a")
	if err != nil || again != id {
		t.Fatalf("second Ensure = %q, %v; want %q kept", again, err, id)
	}
}

func TestEnsureRewritesTheManagersCopy(t *testing.T) {
	for name, planted := range map[string]string{
		"other id":  "0123456789abcdef0123456789abcdef\n",
		"garbage":   "not an id at all, and far longer than one id should ever be",
		"uppercase": "0123456789ABCDEF0123456789ABCDEF",
	} {
		t.Run(name, func(t *testing.T) {
			root, dir := openRoot(t)
			id, err := Ensure(root, "")
			if err != nil {
				t.Fatal(err)
			}
			copyPath := filepath.Join(dir, Copy)
			if err := os.WriteFile(copyPath, []byte(planted), 0o644); err != nil {
				t.Fatal(err)
			}
			if again, err := Ensure(root, ""); err != nil || again != id {
				t.Fatalf("Ensure = %q, %v; want %q", again, err, id)
			}
			if got := readFile(t, copyPath); got != id+"\n" {
				t.Fatalf("copy = %q, want root's %q", got, id)
			}
		})
	}
}

func TestEnsureRenewsOnAnotherHostOrDamage(t *testing.T) {
	root, dir := openRoot(t)
	first, err := Ensure(root, "host-a")
	if err != nil {
		t.Fatal(err)
	}
	cloned, err := Ensure(root, "host-b") // the same root, booted from a cloned image
	if err != nil || cloned == first {
		t.Fatalf("Ensure on another host = %q, %v; want a new id", cloned, err)
	}
	if again, err := Ensure(root, "host-b"); err != nil || again != cloned {
		t.Fatalf("Ensure = %q, %v; want %q kept on its new host", again, err, cloned)
	}
	if again, err := Ensure(root, ""); err != nil || again != cloned {
		t.Fatalf("Ensure with no machine id = %q, %v; want %q kept", again, err, cloned)
	}
	if err := os.WriteFile(filepath.Join(dir, File), []byte("broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if renewed, err := Ensure(root, "host-b"); err != nil || renewed == cloned || !Valid(renewed) {
		t.Fatalf("Ensure over a damaged id = %q, %v; want a new valid id", renewed, err)
	}
}

func TestRootWithoutHostAdoptsIt(t *testing.T) {
	root, _ := openRoot(t)
	id, err := Ensure(root, "") // made where the machine id was unknown
	if err != nil {
		t.Fatal(err)
	}
	if again, err := Ensure(root, "host-a"); err != nil || again != id {
		t.Fatalf("Ensure = %q, %v; want %q kept and host-a recorded", again, err, id)
	}
	if other, err := Ensure(root, "host-b"); err != nil || other == id {
		t.Fatalf("Ensure on host-b = %q, %v; want a new id", other, err)
	}
}
