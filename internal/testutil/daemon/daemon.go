// Package daemon runs a long-running program (hoist-supervisor,
// hoist-manager, dockerd's neighbours) as a process in tests, the way a
// service manager does: in its own process group, with its output in a log
// file, stopped with SIGTERM when the test ends. A stop must end in exit
// status 0 within Timeout (else the group is killed); an exit the test did
// not ask for fails the test; the log is printed when the test failed.
package daemon

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Timeout bounds every wait for something that should happen promptly;
// generous because the machine is shared with other test processes.
const Timeout = 30 * time.Second

// Process is a running program.
type Process struct {
	t       testing.TB
	name    string // the program's base name, for messages
	cmd     *exec.Cmd
	logFile string        // its stdout and stderr
	exited  chan struct{} // closed when the process has exited
	err     error         // Wait's result, set before exited is closed
	ended   bool          // the test stopped or killed it
}

// Start runs bin with args, env added to the test's environment. When the
// test ends, the process is stopped and, if the test failed, its log
// printed.
func Start(t testing.TB, bin string, args, env []string) *Process {
	t.Helper()
	p := &Process{t: t, name: filepath.Base(bin), exited: make(chan struct{})}
	p.logFile = filepath.Join(t.TempDir(), p.name+".log")
	log, err := os.Create(p.logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = log, log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
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
			t.Logf("%s log:\n%s", p.name, p.Log())
		}
	})
	return p
}

// Stop sends SIGTERM and waits for the exit, which must be clean (status
// 0), killing the process group after Timeout.
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
			p.t.Errorf("%s exit after SIGTERM: %v, want status 0", p.name, p.err)
		}
	case <-time.After(Timeout):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
		p.t.Errorf("%s did not stop on SIGTERM", p.name)
	}
}

// Kill kills the process alone with SIGKILL (children in other process
// groups live on) and waits for it to be gone.
func (p *Process) Kill() {
	p.t.Helper()
	if p.gone() {
		return
	}
	p.ended = true
	p.cmd.Process.Kill()
	<-p.exited
}

// gone reports whether the process has exited, failing the test (once) if
// it did so without the test ending it.
func (p *Process) gone() bool {
	select {
	case <-p.exited:
		if !p.ended {
			p.ended = true
			p.t.Errorf("%s exited on its own: %v", p.name, p.err)
		}
		return true
	default:
		return false
	}
}

// Alive fails the test now if the process has exited.
func (p *Process) Alive() {
	p.t.Helper()
	select {
	case <-p.exited:
		p.ended = true // reported here, not again when the test ends; the cleanup prints the log
		p.t.Fatalf("%s died: %v", p.name, p.err)
	default:
	}
}

// Log returns what the process wrote so far.
func (p *Process) Log() string {
	data, err := os.ReadFile(p.logFile)
	if err != nil {
		p.t.Fatal(err)
	}
	return string(data)
}

// WaitLine waits for a complete line of the log that match accepts and
// returns it. It fails the test if the process exits first or after
// Timeout.
func (p *Process) WaitLine(what string, match func(line string) bool) string {
	p.t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		for line := range strings.Lines(p.Log()) {
			if strings.HasSuffix(line, "\n") && match(strings.TrimSuffix(line, "\n")) {
				return strings.TrimSuffix(line, "\n")
			}
		}
		select {
		case <-p.exited:
			p.ended = true
			p.t.Fatalf("%s exited before %s: %v", p.name, what, p.err)
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: timed out waiting for %s", p.name, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// RSS returns the process's resident set size in KiB.
func (p *Process) RSS() int { return p.memory("VmRSS") }

// PeakRSS returns the highest resident set size the process has had, in KiB.
func (p *Process) PeakRSS() int { return p.memory("VmHWM") }

// memory reads one "NAME: N kB" line of the process's /proc status.
func (p *Process) memory(name string) int {
	p.t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		p.t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, name+":"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				p.t.Fatal(err)
			}
			return kb
		}
	}
	p.t.Fatalf("no %s in /proc status", name)
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
