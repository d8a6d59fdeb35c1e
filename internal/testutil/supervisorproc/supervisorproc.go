// Package supervisorproc runs the real hoist-supervisor binary as a process
// in tests (a testutil/daemon), the way systemd runs it: on an app root,
// with a notify socket whose READY=1 Start waits for, logging JSON that
// tests read back as entries.
package supervisorproc

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/testutil/daemon"
	"github.com/hoist-dev/hoist/internal/testutil/testbin"
)

// Options are the optional parts of Start.
type Options struct {
	Bin  string   // the binary to run; default the built hoist-supervisor
	Args []string // arguments after --root ROOT --log-format json
	Env  []string // added to its environment, and so to its triggers'
}

// Process is a running hoist-supervisor.
type Process struct {
	*daemon.Process
	t testing.TB
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
	args := append([]string{"--root", root, "--log-format", "json"}, opts.Args...)
	p := &Process{daemon.Start(t, bin, args, append([]string{"NOTIFY_SOCKET=" + sock}, opts.Env...)), t}
	conn.SetReadDeadline(time.Now().Add(daemon.Timeout))
	buf := make([]byte, 256)
	n, err := conn.Read(buf)
	if err != nil || string(buf[:n]) != "READY=1" {
		t.Fatalf("no READY=1 from the supervisor: %q, %v", buf[:n], err) // the cleanup prints its log
	}
	return p
}

// Entry is one JSON log line.
type Entry map[string]any

// Str returns the field key if it is a string, else "".
func (e Entry) Str(key string) string { s, _ := e[key].(string); return s }

// Entries returns the log entries so far; lines that are not JSON objects
// (a partly written last line) are skipped.
func (p *Process) Entries() []Entry { return entries(p.Log()) }

func entries(log string) []Entry {
	var entries []Entry
	for line := range strings.Lines(log) {
		var e Entry
		if json.Unmarshal([]byte(line), &e) == nil {
			entries = append(entries, e)
		}
	}
	return entries
}

// Count returns how many log entries have message msg and the given
// fields (key, value pairs; for "error", a part of the value).
func (p *Process) Count(msg string, fields ...string) int { return count(p.Log(), msg, fields...) }

func count(log, msg string, fields ...string) int {
	n := 0
	for _, e := range entries(log) {
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
	p.WaitLine(fmt.Sprintf("log %q %q", msg, fields), func(line string) bool { return count(line, msg, fields...) > 0 })
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
	daemon.Eventually(p.t, "the triggers to finish", func() bool {
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
