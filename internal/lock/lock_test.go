package lock

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/hoist-dev/hoist/internal/exitcode"
)

// TestMain lets the test binary act as a lock holder in a child process.
func TestMain(m *testing.M) {
	if path := os.Getenv("LOCK_TEST_HOLD"); path != "" {
		if _, err := Acquire(path); err != nil {
			os.Exit(1)
		}
		os.Stdout.WriteString("held\n")
		select {} // hold until killed
	}
	os.Exit(m.Run())
}

func TestSecondAcquireFailsWhileHeld(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	l, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(path); !errors.Is(err, exitcode.ErrLocked) {
		t.Fatalf("second Acquire: err = %v, want ErrLocked", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := Acquire(path)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	l2.Release()
}

func TestLockOfKilledProcessIsTakenOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LOCK_TEST_HOLD="+path)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := out.Read(buf); err != nil || string(buf) != "held\n" {
		t.Fatalf("child did not take the lock: %q %v", buf, err)
	}
	if _, err := Acquire(path); !errors.Is(err, exitcode.ErrLocked) {
		t.Fatalf("while child holds it: err = %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := Acquire(path)
	if err != nil {
		t.Fatalf("after kill -9: %v", err)
	}
	defer l.Release()
	if l.Previous.PID != cmd.Process.Pid || l.Previous.BootID != BootID() {
		t.Errorf("Previous = %+v, want pid %s", l.Previous, strconv.Itoa(cmd.Process.Pid))
	}
}
