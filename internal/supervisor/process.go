package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
)

const (
	// pipeGrace is how long output pipes stay open after a process exits or
	// is killed: a child that escaped the process group (setsid) and kept
	// stdout open must not hang the supervisor.
	pipeGrace = 2 * time.Second
	// maxLine caps one logged line of a process's output; longer lines are split.
	maxLine = 4096
)

var (
	errTimeout  = errors.New("timed out")
	errShutdown = errors.New("killed at shutdown after the grace period")
)

// launcher runs triggers and `hoist recover`.
type launcher struct {
	dir     string          // working directory: the app root
	env     []string        // environment of every process
	timeout time.Duration   // limit of one run
	kill    context.Context // done when every process must die (end of the shutdown grace)
}

// run runs argv in its own process group and logs its output line by line
// to log, with field stream. When the run times out or l.kill is done, the
// whole group is killed with SIGKILL and the error wraps errTimeout or
// errShutdown.
func (l *launcher) run(log *logrus.Entry, argv []string) error {
	ctx, cancel := context.WithTimeoutCause(l.kill, l.timeout, fmt.Errorf("%w after %s", errTimeout, l.timeout))
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = l.dir, l.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = pipeGrace
	stdout := &lineLogger{log: log.WithField("stream", "stdout")}
	stderr := &lineLogger{log: log.WithField("stream", "stderr")}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	stdout.flush()
	stderr.flush()
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w; process group killed (%v)", context.Cause(ctx), err)
	}
	return err
}

// lineLogger logs what is written to it, one entry per line.
type lineLogger struct {
	log *logrus.Entry
	buf []byte
}

func (w *lineLogger) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		line, rest, found := bytes.Cut(p, []byte{'\n'})
		if room := maxLine - len(w.buf); len(line) > room {
			w.buf = append(w.buf, line[:room]...)
			w.flush()
			p = p[room:]
			continue
		}
		w.buf = append(w.buf, line...)
		if !found {
			break
		}
		w.flush()
		p = rest
	}
	return n, nil
}

// flush logs the buffered partial line, if any.
func (w *lineLogger) flush() {
	if len(w.buf) > 0 {
		w.log.Info(string(w.buf))
		w.buf = w.buf[:0]
	}
}
