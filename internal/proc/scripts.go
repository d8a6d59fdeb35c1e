// Package proc runs child processes for root: a release's update scripts
// (scripts/update/NN-run.sh), the supervisor's triggers and `hoist recover`,
// and turns what they do into facts the engine can act on.
//
// Invariants:
//   - A script that exits non-zero, is killed or outlives its timeout is an
//     *Error naming the script and what happened, in words fit for the
//     status file ("02-run.sh exited with status 3"); success is exit 0 and
//     nothing else.
//   - On timeout or cancellation the script's whole process group is killed,
//     and Run returns within WaitDelay even when an orphan keeps the output
//     pipe open: a script can never hang the update.
//   - Every output line reaches the log writer and the logger; "::progress N
//     text" lines on stdout are also reported through Spec.Progress. Lines are
//     capped, so a runaway script cannot exhaust memory.
//   - A line is logged as the message of an info entry with fields script
//     and stream. With Spec.StructuredOutput, a line that is a logrus JSON
//     entry (an object with string fields "level", a level logrus knows, and
//     "msg") is logged as an entry of its own instead: its message at its
//     level, with its other fields but "time" (the logger stamps its own).
//     script, stream and the Logger's fields win on a clash, so a child
//     cannot pass for another; the child's value is kept as "fields.KEY". Panic and fatal are logged as error: a
//     child's end is not the caller's, and no logrus version may stop the
//     caller for a line of output. The option is for trusted programs (the
//     supervisor's triggers, which run hoist): a release's scripts must not
//     forge the engine's entries. The log writer always gets the raw line.
package proc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
)

// Dir holds the update scripts, relative to a release tree.
const Dir = "scripts/update"

// Names are the update scripts in the order they run: 00 from the staging
// clone before anything is installed, 01 to 03 from the root afterwards.
var Names = []string{"00-run.sh", "01-run.sh", "02-run.sh", "03-run.sh"}

// maxLine caps one output line; longer lines are split.
const maxLine = 4096

// maxProgressText caps the status description a script may set.
const maxProgressText = 200

// waitDelay bounds how long Run waits for the output pipes to close after
// the script exited or was killed (an orphan may hold them).
const waitDelay = 2 * time.Second

// Spec says how to run one script.
type Spec struct {
	Name string // e.g. "02-run.sh", used in messages
	// Script is the update script to run, checked by Open; when it is
	// nil, Path is run: the absolute path of a program that needs no such
	// check (the supervisor checks its triggers itself).
	Script  *Script
	Path    string
	Args    []string // e.g. RELEASE ROOT
	Dir     string   // working directory
	Env     []string // added to hoist's own environment
	Timeout time.Duration
	// Log receives every output line (stdout and stderr interleaved).
	Log io.Writer
	// Logger receives every output line too, with fields script and stream.
	Logger logrus.FieldLogger
	// StructuredOutput logs output lines that are logrus JSON entries as
	// entries of their own (see the package doc). Only for trusted programs.
	StructuredOutput bool
	// Progress, if set, is called for each "::progress N text" line on
	// stdout with N in 0..100.
	Progress func(percent int, text string)
}

// Error is a script that did not exit 0.
type Error struct {
	Name string
	// ExitStatus is the exit status, or -1 when the script did not exit by
	// itself (killed, timed out, never started).
	ExitStatus int
	// Timeout is set when the script was killed for outliving it.
	Timeout time.Duration
	// Err is the underlying error for other cases (start failure, signal,
	// cancellation).
	Err error
}

func (e *Error) Error() string {
	switch {
	case e.Timeout > 0:
		return fmt.Sprintf("%s timed out after %s", e.Name, e.Timeout)
	case e.ExitStatus >= 0:
		return fmt.Sprintf("%s exited with status %d", e.Name, e.ExitStatus)
	default:
		return fmt.Sprintf("%s %v", e.Name, e.Err)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// Run runs the script described by s. Any outcome other than exit status 0
// is an *Error.
func Run(ctx context.Context, s Spec) error {
	runCtx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	out := newOutput(s)
	prog, extra := s.Path, []*os.File(nil)
	if s.Script != nil {
		// The child gets the directory Open checked as its descriptor
		// scriptDirFD, and the kernel finds the script through it.
		prog, extra = s.Script.execPath(), []*os.File{s.Script.dir}
	}
	cmd := exec.CommandContext(runCtx, prog, s.Args...)
	cmd.ExtraFiles = extra
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), s.Env...)
	cmd.Stdout = out.writer("stdout", true)
	cmd.Stderr = out.writer("stderr", false)
	// Its own process group, so that a timeout kills what it started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay

	err := cmd.Run()
	out.flush()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, exec.ErrWaitDelay):
		// The script exited 0; something it left behind held the output.
		s.Logger.WithField("script", s.Name).Warn("script left a background process holding its output open")
		return nil
	case ctx.Err() != nil:
		return &Error{Name: s.Name, ExitStatus: -1, Err: fmt.Errorf("was stopped: %w", context.Cause(ctx))}
	case runCtx.Err() != nil:
		return &Error{Name: s.Name, ExitStatus: -1, Timeout: s.Timeout, Err: runCtx.Err()}
	case errors.As(err, &exitErr):
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return &Error{Name: s.Name, ExitStatus: -1, Err: fmt.Errorf("was killed by signal %d (%v)", int(ws.Signal()), ws.Signal())}
		}
		return &Error{Name: s.Name, ExitStatus: exitErr.ExitCode()}
	default:
		return &Error{Name: s.Name, ExitStatus: -1, Err: fmt.Errorf("could not start: %w", err)}
	}
}

// output collects a script's lines from both streams.
type output struct {
	spec Spec
	mu   sync.Mutex // guards writes to spec.Log
	ws   []*lineWriter
}

func newOutput(s Spec) *output { return &output{spec: s} }

func (o *output) writer(stream string, progress bool) io.Writer {
	log := o.spec.Logger.WithFields(logrus.Fields{"script": o.spec.Name, "stream": stream})
	w := &lineWriter{emit: func(line string) {
		if progress && o.spec.Progress != nil {
			if n, text, ok := ParseProgress(line); ok {
				o.spec.Progress(n, text)
			}
		}
		o.logLine(log, line)
		o.add(line)
	}}
	o.ws = append(o.ws, w)
	return w
}

// logLine logs line through log: as the entry it carries when structured
// output is on and it is one, else as the message of an info entry.
func (o *output) logLine(log *logrus.Entry, line string) {
	if o.spec.StructuredOutput {
		if level, msg, fields, ok := parseEntry(line); ok {
			for k := range log.Data {
				// Ours win, so a child cannot pose as another script; its
				// value is kept aside, as logrus does for its own keys.
				if v, clash := fields[k]; clash {
					fields["fields."+k] = v
					delete(fields, k)
				}
			}
			log.WithFields(fields).Log(level, msg)
			return
		}
	}
	log.Info(line)
}

// parseEntry parses line as a logrus JSON entry: an object with string
// fields "level", naming a level logrus knows, and "msg". fields are its
// other fields but "time". Panic and fatal become error (logrus before
// v1.10 panicked in Entry.Log at panic level). line is capped at maxLine,
// so parsing is bounded.
func parseEntry(line string) (level logrus.Level, msg string, fields logrus.Fields, ok bool) {
	if !strings.HasPrefix(line, "{") {
		return 0, "", nil, false // most lines are plain: skip the decoder
	}
	if json.Unmarshal([]byte(line), &fields) != nil {
		return 0, "", nil, false
	}
	name, isLevel := fields[logrus.FieldKeyLevel].(string)
	msg, isMsg := fields[logrus.FieldKeyMsg].(string)
	if !isLevel || !isMsg {
		return 0, "", nil, false
	}
	level, err := logrus.ParseLevel(name)
	if err != nil {
		return 0, "", nil, false
	}
	if level < logrus.ErrorLevel {
		level = logrus.ErrorLevel
	}
	for _, k := range []string{logrus.FieldKeyLevel, logrus.FieldKeyMsg, logrus.FieldKeyTime} {
		delete(fields, k)
	}
	return level, msg, fields, true
}

func (o *output) add(line string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.spec.Log != nil {
		// A log file that fails to take a line must not fail the update.
		_, _ = io.WriteString(o.spec.Log, line+"\n")
	}
}

func (o *output) flush() {
	for _, w := range o.ws {
		w.flush()
	}
}

// lineWriter splits what is written into lines of at most maxLine bytes.
// exec calls Write from one goroutine per stream.
type lineWriter struct {
	emit func(string)
	buf  []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		switch {
		case i >= 0 && i <= maxLine:
			w.emit(strings.TrimSuffix(string(w.buf[:i]), "\r"))
			w.buf = w.buf[i+1:]
		case len(w.buf) >= maxLine:
			w.emit(string(w.buf[:maxLine]))
			w.buf = w.buf[maxLine:]
		default:
			return len(p), nil
		}
	}
}

func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.emit(string(w.buf))
		w.buf = nil
	}
}

// ParseProgress parses a "::progress N text" line: N in 0..100, text
// optional and capped.
func ParseProgress(line string) (percent int, text string, ok bool) {
	rest, found := strings.CutPrefix(line, "::progress ")
	if !found {
		return 0, "", false
	}
	num, text, _ := strings.Cut(rest, " ")
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || n > 100 {
		return 0, "", false
	}
	text = strings.TrimSpace(text)
	if len(text) > maxProgressText {
		text = text[:maxProgressText]
	}
	return n, strings.ToValidUTF8(text, "?"), true
}
