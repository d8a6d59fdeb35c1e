package faults_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/testutil/testbin"
)

// waitTimeout bounds every wait for something that should happen
// promptly; generous because the machine is shared.
const waitTimeout = 30 * time.Second

// supervisor is a running hoist-supervisor logging JSON to a file.
type supervisor struct {
	t      *testing.T
	cmd    *exec.Cmd
	log    string        // its stderr
	exited chan struct{} // closed when it has exited
}

// startSupervisor starts hoist-supervisor on root with env added to its
// environment (and so to its triggers') and waits for its READY=1.
func startSupervisor(t *testing.T, root string, env ...string) *supervisor {
	t.Helper()
	sockDir, err := os.MkdirTemp("", "faults") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(sockDir)
	sock := filepath.Join(sockDir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s := &supervisor{t: t, log: filepath.Join(t.TempDir(), "supervisor.log"), exited: make(chan struct{})}
	logFile, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	s.cmd = exec.Command(testbin.Path(t, "hoist-supervisor"), "--root", root, "--log-format", "json", "--grace", "2s")
	s.cmd.Env = append(append(os.Environ(), "NOTIFY_SOCKET="+sock), env...)
	s.cmd.Stderr = logFile
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("supervisor log:\n%s", s.text())
		}
	})
	conn.SetReadDeadline(time.Now().Add(waitTimeout))
	buf := make([]byte, 64)
	if n, err := conn.Read(buf); err != nil || string(buf[:n]) != "READY=1" {
		t.Fatalf("no READY=1 from the supervisor: %q %v\n%s", buf[:n], err, s.text())
	}
	return s
}

// kill kills the supervisor with SIGKILL (its triggers live on, in their
// own process groups) and waits for it to be gone.
func (s *supervisor) kill() {
	s.cmd.Process.Kill()
	<-s.exited
}

// stop stops the supervisor with SIGTERM; it must exit 0.
func (s *supervisor) stop() {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		if code := s.cmd.ProcessState.ExitCode(); code != 0 {
			s.t.Errorf("supervisor exited %d after SIGTERM", code)
		}
	case <-time.After(waitTimeout):
		s.t.Error("supervisor did not stop on SIGTERM")
		s.kill()
	}
}

// alive fails the test if the supervisor has exited.
func (s *supervisor) alive() {
	s.t.Helper()
	select {
	case <-s.exited:
		s.t.Fatalf("the supervisor died: %v\n%s", s.cmd.ProcessState, s.text())
	default:
	}
}

func (s *supervisor) text() string {
	data, _ := os.ReadFile(s.log)
	return string(data)
}

// logEntry is one JSON log line.
type logEntry map[string]any

func (e logEntry) str(key string) string { v, _ := e[key].(string); return v }

// count counts the log entries with message msg and the given fields
// (key, value pairs).
func (s *supervisor) count(msg string, fields ...string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(s.text()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e logEntry
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.str("msg") != msg {
			continue
		}
		match := true
		for i := 0; i+1 < len(fields); i += 2 {
			match = match && e.str(fields[i]) == fields[i+1]
		}
		if match {
			n++
		}
	}
	return n
}

// waitIdle waits until every trigger run the supervisor started has
// finished.
func (s *supervisor) waitIdle() {
	s.t.Helper()
	eventually(s.t, "the triggers to finish", func() bool {
		return s.count("trigger finished")+s.count("trigger failed") == s.count("trigger started")
	})
}

// rss returns the supervisor's resident set size in KiB.
func (s *supervisor) rss() int {
	s.t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		s.t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				s.t.Fatal(err)
			}
			return kb
		}
	}
	s.t.Fatal("no VmRSS")
	return 0
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
