package supervisor

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hoist-dev/hoist/internal/logging"
)

func TestLineLogger(t *testing.T) {
	var out bytes.Buffer
	log, err := logging.New(&out, "text")
	if err != nil {
		t.Fatal(err)
	}
	log.SetFormatter(&logrus.TextFormatter{DisableTimestamp: true, DisableQuote: true})
	w := &lineLogger{log: logrus.NewEntry(log)}
	for _, chunk := range []string{"one\ntw", "o\n\nthree", " and more\n", strings.Repeat("x", maxLine+10), "\nlast"} {
		if n, err := w.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	w.flush()
	want := "level=info msg=one\n" +
		"level=info msg=two\n" +
		"level=info msg=three and more\n" +
		"level=info msg=" + strings.Repeat("x", maxLine) + "\n" +
		"level=info msg=xxxxxxxxxx\n" +
		"level=info msg=last\n"
	if out.String() != want {
		t.Errorf("logged:\n%s\nwant:\n%s", out.String(), want)
	}
}

// testLauncher returns a launcher working in a temp dir, the logger for its
// runs, whose output is shown if the test fails, and the launcher's kill switch.
func testLauncher(t *testing.T, timeout time.Duration) (*launcher, *logrus.Entry, context.CancelCauseFunc) {
	out := &bytes.Buffer{}
	log, err := logging.New(out, "text")
	if err != nil {
		t.Fatal(err)
	}
	kill, killAll := context.WithCancelCause(context.Background())
	t.Cleanup(func() {
		killAll(nil)
		if t.Failed() {
			t.Logf("log:\n%s", out)
		}
	})
	return &launcher{dir: t.TempDir(), env: os.Environ(), timeout: timeout, kill: kill}, logrus.NewEntry(log), killAll
}

// startWithChild runs a shell that starts a child and waits for it. It
// returns the child's pid once known, and a channel for the run's result.
func startWithChild(t *testing.T, l *launcher, log *logrus.Entry) (int, chan error) {
	t.Helper()
	pidFile := l.dir + "/child.pid"
	done := make(chan error, 1)
	go func() {
		done <- l.run(log, []string{"/bin/sh", "-c", "sleep 300 & echo $! > child.pid; wait"})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if data, err := os.ReadFile(pidFile); err == nil && bytes.HasSuffix(data, []byte("\n")) {
			pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
			if err != nil {
				t.Fatal(err)
			}
			return pid, done
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("child pid not written")
	return 0, nil
}

// gone reports whether pid has exited (a zombie waiting for its reaper counts).
func gone(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// "pid (comm) S ...": the state follows the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !gone(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("process %d still alive", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLauncherTimeoutKillsProcessGroup(t *testing.T) {
	l, log, _ := testLauncher(t, 300*time.Millisecond)
	pid, done := startWithChild(t, l, log)
	select {
	case err := <-done:
		if !errors.Is(err, errTimeout) {
			t.Errorf("run = %v, want errTimeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run not killed at its timeout")
	}
	waitGone(t, pid)
}

func TestLauncherShutdownKillsProcessGroup(t *testing.T) {
	l, log, killAll := testLauncher(t, time.Hour)
	pid, done := startWithChild(t, l, log)
	killAll(errShutdown)
	select {
	case err := <-done:
		if !errors.Is(err, errShutdown) {
			t.Errorf("run = %v, want errShutdown", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run not killed at shutdown")
	}
	waitGone(t, pid)
}

// A child that left the process group and kept stdout open must not keep
// the run waiting for more than pipeGrace.
func TestLauncherDoesNotWaitForEscapedChild(t *testing.T) {
	l, log, _ := testLauncher(t, time.Hour)
	var out bytes.Buffer
	log.Logger.SetOutput(&out)
	start := time.Now()
	err := l.run(log, []string{"/bin/sh", "-c", "setsid sleep 300 & echo $! > child.pid; echo started"})
	took := time.Since(start)
	if data, rerr := os.ReadFile(l.dir + "/child.pid"); rerr == nil {
		if pid, _ := strconv.Atoi(strings.TrimSpace(string(data))); pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if took > pipeGrace+3*time.Second {
		t.Errorf("run took %s, want about pipeGrace (%s)", took, pipeGrace)
	}
	if !errors.Is(err, exec.ErrWaitDelay) {
		t.Errorf("run = %v, want exec.ErrWaitDelay", err)
	}
	if !strings.Contains(out.String(), "msg=started") {
		t.Errorf("output before the escape not logged:\n%s", out.String())
	}
}
