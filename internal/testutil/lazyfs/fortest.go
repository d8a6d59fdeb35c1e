package lazyfs

import (
	"errors"
	"os"
	"testing"
)

// MountForTest mounts a fresh file system in a new temp dir for the test,
// unmounts it when the test ends, and returns it and the dir. Where FUSE is
// unavailable the test is skipped, unless $HOIST_REQUIRE_FUSE is set (CI
// machines that must run it).
func MountForTest(t testing.TB, o Options) (*FS, string) {
	t.Helper()
	dir := t.TempDir()
	f, err := Mount(dir, o)
	if errors.Is(err, ErrUnavailable) && os.Getenv("HOIST_REQUIRE_FUSE") == "" {
		t.Skipf("cannot mount FUSE here (set HOIST_REQUIRE_FUSE=1 to fail instead): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	return f, dir
}
