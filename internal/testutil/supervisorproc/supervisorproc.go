// Package supervisorproc runs the real hoist-supervisor binary as a process
// in tests, the way systemd runs it: on an app root, with a notify socket
// whose READY=1 Start waits for, logging JSON to a file that tests read back
// as entries. When the test ends, a supervisor still running is stopped with
// SIGTERM and must exit 0; one that exited without the test asking for it
// fails the test, and the log is printed when the test failed.
package supervisorproc

import (
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

// Timeout bounds every wait for something that should happen promptly;
// generous because the machine is shared with other test processes.
const Timeout = 30 * time.Second

// Options are the optional parts of Start.
type Options struct {
	Bin  string   // the binary to run; default the built hoist-supervisor
	Args []string // arguments after --root ROOT --log-format json
	Env  []string // added to its environment, and so to its triggers'
}

// Process is a running hoist-supervisor.
type Process struct {
	t       testing.TB
	cmd     *exec.Cmd
	logFile string        // its stderr
	exited  chan struct{} // closed when the process has exited
	err     error         // Wait's result, set before exited is closed
	ended   bool          // the test stopped or killed it
}

// Start starts the supervisor on root and waits until it tells systemd it
// is ready. When the test ends, it is stopped and, if the test failed, its
// log printed.
func Start(t testing.TB, root string, opts Options) *Process {
	t.Helper()
	bin := opts.Bin
	if bin == "" {
		bin = testbin.Path(t, "hoist-supervisor")
	}
	sockDir, err := os.MkdirTemp("", "hs") // short: unix socket paths are limited
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

	p := &Process{t: t, logFile: filepath.Join(t.TempDir(), "supervisor.log"), exited: make(chan struct{})}
	stderr, err := os.Create(p.logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	args := append([]string{"--root", root, "--log-format", "json"}, opts.Args...)
	env := append(append(os.Environ(), "NOTIFY_SOCKET="+sock), opts.Env...)
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env, p.cmd.Stderr = env, stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("supervisor log:\n%s", p.Log())
		}
	})
	conn.SetReadDeadline(time.Now().Add(Timeout))
	buf := make([]byte, 256)
	n, err := conn.Read(buf)
	if err != nil || string(buf[:n]) != "READY=1" {
		t.Fatalf("no READY=1 from the supervisor: %q, %v", buf[:n], err) // the cleanup prints its log
	}
	return p
}

// Stop sends SIGTERM and waits for the exit, which must be clean (status
// 0), killing after Timeout.
func (p *Process) Stop() {
	p.t.Helper()
	if p.gone() {
		return
	}
	p.ended = true
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.err != nil {
			p.t.Errorf("supervisor exit after SIGTERM: %v, want status 0", p.err)
		}
	case <-time.After(Timeout):
		p.cmd.Process.Kill()
		<-p.exited
		p.t.Error("supervisor did not stop on SIGTERM")
	}
}

// Kill kills the supervisor with SIGKILL (its triggers live on, in their
// own process groups) and waits for it to be gone.
func (p *Process) Kill() {
	p.t.Helper()
	if p.gone() {
		return
	}
	p.ended = true
	p.cmd.Process.Kill()
	<-p.exited
}

// gone reports whether the supervisor has exited, failing the test (once)
// if it did so without the test ending it.
func (p *Process) gone() bool {
	select {
	case <-p.exited:
		if !p.ended {
			p.ended = true
			p.t.Errorf("supervisor exited on its own: %v", p.err)
		}
		return true
	default:
		return false
	}
}

// Alive fails the test if the supervisor has exited.
func (p *Process) Alive() {
	p.t.Helper()
	select {
	case <-p.exited:
		p.ended = true // reported here, not again when the test ends; the cleanup prints the log
		p.t.Fatalf("the supervisor died: %v", p.err)
	default:
	}
}

// Log returns what the supervisor logged so far.
func (p *Process) Log() string {
	data, err := os.ReadFile(p.logFile)
	if err != nil {
		p.t.Fatal(err)
	}
	return string(data)
}

// Entry is one JSON log line.
type Entry map[string]any

// Str returns the field key if it is a string, else "".
func (e Entry) Str(key string) string { s, _ := e[key].(string); return s }

// Entries returns the log entries so far; lines that are not JSON objects
// (a partly written last line) are skipped.
func (p *Process) Entries() []Entry {
	var entries []Entry
	for line := range strings.Lines(p.Log()) {
		var e Entry
		if json.Unmarshal([]byte(line), &e) == nil {
			entries = append(entries, e)
		}
	}
	return entries
}

// Count returns how many log entries have message msg and the given
// fields (key, value pairs; for "error", a part of the value).
func (p *Process) Count(msg string, fields ...string) int {
	n := 0
	for _, e := range p.Entries() {
		if e.Str("msg") != msg {
			continue
		}
		match := true
		for i := 0; i+1 < len(fields); i += 2 {
			if got := e.Str(fields[i]); fields[i] == "error" {
				match = match && strings.Contains(got, fields[i+1])
			} else {
				match = match && got == fields[i+1]
			}
		}
		if match {
			n++
		}
	}
	return n
}

// WaitLog waits for a log entry with message msg and the given fields (as
// for Count).
func (p *Process) WaitLog(msg string, fields ...string) {
	p.t.Helper()
	Eventually(p.t, fmt.Sprintf("log %q %q", msg, fields), func() bool { return p.Count(msg, fields...) > 0 })
}

// What the supervisor logs when it loses its signals directory, and while
// the directory is unusable.
const (
	SignalsLost     = "lost the signals directory; watching it again once it is a real directory"
	SignalsUnusable = "signals directory unusable: serving no signals, checking again every 1s"
)

// WaitSignalsLost waits for the supervisor to log that it lost its signals
// directory, and fails unless it logged that once. The reason is not
// checked: when the directory is moved or replaced, its own watch and the
// watch on events/ race to see it first, and each names it differently.
func (p *Process) WaitSignalsLost() {
	p.t.Helper()
	p.WaitLog(SignalsLost)
	if n := p.Count(SignalsLost); n != 1 {
		p.t.Errorf("loss of the signals directory logged %d times, want once", n)
	}
}

// WaitIdle waits until every trigger run the supervisor started has
// finished.
func (p *Process) WaitIdle() {
	p.t.Helper()
	Eventually(p.t, "the triggers to finish", func() bool {
		running := 0
		for _, e := range p.Entries() {
			switch e.Str("msg") {
			case "trigger started":
				running++
			case "trigger finished", "trigger failed":
				running--
			}
		}
		return running == 0
	})
}

// RSS returns the supervisor's resident set size in KiB.
func (p *Process) RSS() int {
	p.t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		p.t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				p.t.Fatal(err)
			}
			return kb
		}
	}
	p.t.Fatal("no VmRSS")
	return 0
}

// Eventually waits up to Timeout for cond to hold, failing the test with
// what it waited for if it does not.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
