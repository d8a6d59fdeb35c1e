package testbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// CrossDir returns the directory of hoist, hoist-supervisor and
// hoist-manager built for Linux on arch (make's ARCH: amd64, arm64, armv7 or
// armv6): $HOIST_BIN/linux-ARCH, which `make build ARCH=...` writes (make
// test builds arm64 and armv7), else a build made here as make build does,
// into a directory of that name too.
func CrossDir(t testing.TB, arch string) string {
	t.Helper()
	if d := os.Getenv("HOIST_BIN"); d != "" {
		dir := filepath.Join(d, "linux-"+arch)
		if _, err := os.Stat(filepath.Join(dir, "hoist")); err == nil {
			return dir
		}
	}
	env := map[string][]string{
		"amd64": {"GOARCH=amd64"},
		"arm64": {"GOARCH=arm64"},
		"armv7": {"GOARCH=arm", "GOARM=7"},
		"armv6": {"GOARCH=arm", "GOARM=6"},
	}[arch]
	if env == nil {
		t.Fatalf("testbin: unknown architecture %q", arch)
	}
	dir := filepath.Join(t.TempDir(), "linux-"+arch)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", dir+"/", "./cmd/...")
	cmd.Dir = moduleRoot()
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux"), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build for %s: %v\n%s", arch, err, out)
	}
	return dir
}
