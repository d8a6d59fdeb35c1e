// Package testbin gives tests the paths of the real hoist binaries, so that
// they run real processes. With $HOIST_BIN set (make test does, after make
// build) the binaries there are used; otherwise they are built once per test
// process into a temporary directory.
package testbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	mu    sync.Mutex // guards the fields below
	dir   string     // where this process builds binaries
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
	mu.Lock()
	defer mu.Unlock()
	if dir == "" {
		d, err := os.MkdirTemp("", "hoist-testbin-")
		if err != nil {
			t.Fatal(err)
		}
		dir = d
	}
	p := filepath.Join(dir, name)
	if built[name] {
		return p
	}
	cmd := exec.Command("go", "build", "-o", p, "./cmd/"+name)
	cmd.Dir = moduleRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, out)
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
