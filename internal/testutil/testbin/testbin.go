// Package testbin gives tests the paths of the real hoist binaries, so that
// they run real processes. With $HOIST_BIN set (make test does, after make
// build) the binaries there are used; otherwise each test process builds them
// once into one shared directory per user, replacing each binary atomically
// so that processes building or running them at the same time never see a
// partial file, and nothing is left behind per process.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	mu    sync.Mutex // guards built
	built = map[string]bool{}
)

// Path returns the path of binary name (hoist, hoist-supervisor, hoist-manager).
func Path(t testing.TB, name string) string {
	t.Helper()
	if dir := os.Getenv("HOIST_BIN"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("HOIST_BIN: %v", err)
		}
		return p
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("hoist-testbin-%d", os.Getuid()))
	p := filepath.Join(dir, name)
	mu.Lock()
	defer mu.Unlock()
	if built[name] {
		return p
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.CreateTemp(dir, name+".tmp-")
	if err != nil {
		t.Fatal(err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.Command("go", "build", "-o", tmp.Name(), "./cmd/"+name)
	cmd.Dir = moduleRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, out)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		t.Fatal(err)
	}
	built[name] = true
	return p
}

// Dir returns the directory holding all three binaries, e.g. to put on PATH
// for triggers that call `hoist`.
func Dir(t testing.TB) string {
	t.Helper()
	var d string
	for _, name := range []string{"hoist", "hoist-supervisor", "hoist-manager"} {
		d = filepath.Dir(Path(t, name))
	}
	return d
}

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}
