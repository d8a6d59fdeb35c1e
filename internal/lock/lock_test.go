package lock

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gofrs/flock"

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

// A killed holder's child may hold the lock's descriptor for the moment
// between its fork and its exec: Acquire waits that out when the recorded
// holder is dead, and fails at once when it lives.
func TestLockHeldBrieflyAfterItsOwnerDied(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		owner   Owner
		wantErr bool
	}{
		{"owner dead", Owner{PID: dead.Process.Pid, BootID: BootID()}, false},
		{"owner of an earlier boot", Owner{PID: os.Getpid(), BootID: "earlier"}, false},
		{"owner alive", Owner{PID: os.Getpid(), BootID: BootID()}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			orphan := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR))
			if ok, err := orphan.TryLock(); !ok || err != nil {
				t.Fatalf("take the lock: %v %v", ok, err)
			}
			if err := writeOwner(path, tt.owner); err != nil {
				t.Fatal(err)
			}
			time.AfterFunc(100*time.Millisecond, func() { orphan.Unlock() })
			defer orphan.Unlock()
			start := time.Now()
			l, err := Acquire(path)
			took := time.Since(start)
			if tt.wantErr {
				if !errors.Is(err, exitcode.ErrLocked) || took > 50*time.Millisecond {
					t.Fatalf("Acquire = %v after %v, want ErrLocked at once", err, took)
				}
				return
			}
			if err != nil {
				t.Fatalf("Acquire: %v after %v, want the lock once the orphan lets go", err, took)
			}
			l.Release()
		})
	}
}
