// Package fdleak checks, in tests, that code under test left no descriptor
// open on the files of a directory. Only those count: other tests, the Go
// runtime and idle HTTP connections open and close descriptors meanwhile,
// so a count over the whole process is flaky.
package fdleak

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// Watch turns the GC off until the test ends (a finalizer would close, and
// so hide, a leaked *os.File) and returns a check that fails the test for
// every descriptor of this process open on a file under dir that was not
// open when Watch was called, saying after what.
func Watch(t testing.TB, dir string) (check func(after string)) {
	t.Helper()
	gc := debug.SetGCPercent(-1)
	t.Cleanup(func() { debug.SetGCPercent(gc) })
	before := openUnder(t, dir)
	return func(after string) {
		t.Helper()
		for fd, target := range openUnder(t, dir) {
			if before[fd] != target {
				t.Errorf("after %s, descriptor %s is still open on %s", after, fd, target)
			}
		}
	}
}

// openUnder returns the descriptors of this process open on files under
// dir, with the files they are open on.
func openUnder(t testing.TB, dir string) map[string]string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	open := map[string]string{}
	for _, fd := range fds {
		// An error: the descriptor ReadDir used, closed by now.
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir+"/") {
			open[fd.Name()] = target
		}
	}
	return open
}
