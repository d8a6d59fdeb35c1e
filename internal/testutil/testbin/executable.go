package testbin

import (
	"os"
	"syscall"
	"testing"
)

// WriteExecutable writes data to path as an executable (mode 0755 whatever
// the umask) that the test is about to run. It holds syscall.ForkLock while
// the file is open: a child forked meanwhile by a parallel test would hold
// the file open for writing until it execs, and running the file would then
// fail with "text file busy" (ETXTBSY, golang/go#22315).
func WriteExecutable(t testing.TB, path string, data []byte) {
	t.Helper()
	syscall.ForkLock.RLock()
	err := os.WriteFile(path, data, 0o755)
	syscall.ForkLock.RUnlock()
	if err == nil {
		err = os.Chmod(path, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
}
