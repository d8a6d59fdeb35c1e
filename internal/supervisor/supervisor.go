package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/lock"
)

// LockName is the supervisor's lock file in ROOT/.hoist/.
const LockName = "supervisor.lock"

// Options configure Run.
type Options struct {
	Root           string         // absolute path of the app root
	Log            *logrus.Logger // where everything is logged
	TriggerTimeout time.Duration  // limit of one trigger run (and of hoist recover)
	Grace          time.Duration  // how long shutdown waits for running triggers
	// BinDir holds the hoist binaries: `hoist recover` is run from there
	// (else from PATH), and it is put first on the triggers' PATH.
	BinDir string
	// Notify, if set, receives systemd notifications (READY=1, STOPPING=1).
	Notify func(state string)
}

// supervisor is the state of one Run.
type supervisor struct {
	opt     Options
	log     *logrus.Logger
	root    *os.Root // the app root
	signals *os.Root // ROOT/events/signals
	euid    int
	env     []string        // added to the environment of every process
	kill    context.Context // done when every process must die (end of the shutdown grace)
	runs    *dispatcher
	noted   *noted
}

// errShutdown is why processes still running at the end of the grace period die.
var errShutdown = errors.New("killed at shutdown after the grace period")

// Run supervises the app root until ctx is done, then shuts down gracefully
// and returns nil. A second supervisor for the same root gets an error
// wrapping exitcode.ErrLocked.
func Run(ctx context.Context, opt Options) error {
	root, err := os.OpenRoot(opt.Root)
	if err != nil {
		return fmt.Errorf("app root: %w", err)
	}
	defer root.Close()
	if err := root.Mkdir(approot.StateDir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create %s: %w", approot.StateDir, err)
	}
	lk, err := lock.Acquire(filepath.Join(opt.Root, approot.StateDir, LockName))
	if errors.Is(err, exitcode.ErrLocked) {
		return fmt.Errorf("another hoist-supervisor is running for %s: %w", opt.Root, err)
	}
	if err != nil {
		return err
	}
	defer lk.Release()

	// A lost watch shuts down like a cancellation, with the same grace.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Processes outlive ctx by the grace period only.
	kill, killAll := context.WithCancelCause(context.Background())
	defer killAll(nil)
	defer killAfterGrace(ctx, opt.Grace, killAll)()

	s := &supervisor{
		opt:   opt,
		log:   opt.Log,
		root:  root,
		euid:  os.Geteuid(),
		env:   processEnv(opt.Root, opt.BinDir, os.Getenv("PATH")),
		kill:  kill,
		noted: newNoted(),
	}
	s.runs = newDispatcher(s.serve)
	s.recover()
	if ctx.Err() != nil {
		return nil
	}
	// Open until every run is over: runs take their signal file through it.
	if s.signals, err = openSignals(root); err != nil {
		return err
	}
	defer s.signals.Close()
	err = s.watch(ctx)
	cancel()
	s.notify("STOPPING=1")
	if n := s.runs.stop(); n > 0 {
		s.log.Infof("stopping: waiting up to %s for %d running trigger(s)", opt.Grace, n)
	}
	s.runs.wait()
	s.log.Info("stopped")
	return err
}

// killAfterGrace calls kill(errShutdown) once grace has passed after ctx is
// done, unless the returned stop function is called first.
func killAfterGrace(ctx context.Context, grace time.Duration, kill context.CancelCauseFunc) (stop func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			kill(errShutdown)
		}
	}()
	return func() { close(done) }
}

// openSignals opens ROOT/events/signals, which must be a real directory,
// not a symlink.
func openSignals(root *os.Root) (*os.Root, error) {
	fi, err := root.Lstat(approot.SignalsDir)
	if err != nil {
		return nil, fmt.Errorf("signals directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("signals directory %s is a %s", approot.SignalsDir, kind(fi.Mode()))
	}
	signals, err := root.OpenRoot(approot.SignalsDir)
	if err != nil {
		return nil, fmt.Errorf("signals directory: %w", err)
	}
	return signals, nil
}

// watch handles the signals directory until ctx is done (nil) or the watch
// is lost (error).
func (s *supervisor) watch(ctx context.Context) error {
	w, err := watchDir(filepath.Join(s.opt.Root, approot.SignalsDir), s.signals)
	if err != nil {
		return err
	}
	defer w.close()
	s.rescan()
	s.log.WithField("dir", w.dir).Info("watching signals")
	s.notify("READY=1")
	for {
		seen, err := w.next(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil
		case err != nil:
			return err
		case seen.lost != nil:
			s.log.WithError(seen.lost).Warn("watch lost events; rescanning")
			s.rescan()
		case seen.name != "":
			s.sighted(seen.name, seen.complete)
		}
	}
}

func (s *supervisor) notify(state string) {
	if s.opt.Notify != nil {
		s.opt.Notify(state)
	}
}
