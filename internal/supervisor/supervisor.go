package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/sirupsen/logrus"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/lock"
)

// LockName is the supervisor's lock file in ROOT/.hoist/.
const LockName = "supervisor.lock"

// recheckEvery is how often the supervisor checks, while events/signals is
// unusable, whether a real directory is back (and, where events/ cannot be
// watched, whether events/signals is still the directory it watches).
const recheckEvery = time.Second

// Options configure Run.
type Options struct {
	// Root is the app root. Run resolves it once, at start, to an absolute
	// path without symlinks, and uses that path throughout.
	Root           string
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
	root    *os.Root                // the app root
	signals atomic.Pointer[os.Root] // ROOT/events/signals; nil while it is unusable
	euid    int
	// triggerDirs are the directories on the path of every trigger, checked
	// before each run.
	triggerDirs []component
	env         []string        // added to the environment of every process
	kill        context.Context // done when every process must die (end of the shutdown grace)
	runs        *dispatcher
	noted       *noted
}

// errShutdown is why processes still running at the end of the grace period die.
var errShutdown = errors.New("killed at shutdown after the grace period")

// Run supervises the app root until ctx is done, then shuts down gracefully
// and returns nil. A second supervisor for the same root gets an error
// wrapping exitcode.ErrLocked.
func Run(ctx context.Context, opt Options) error {
	// Triggers run by path: a symlink on the configured one, swapped later,
	// must not redirect them.
	resolved, err := filepath.EvalSymlinks(opt.Root)
	if err == nil {
		resolved, err = filepath.Abs(resolved)
	}
	if err != nil {
		return fmt.Errorf("app root: %w", err)
	}
	opt.Root = resolved
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
		opt:         opt,
		log:         opt.Log,
		root:        root,
		euid:        os.Geteuid(),
		triggerDirs: triggerDirs(opt.Root),
		env:         processEnv(opt.Root, opt.BinDir, os.Getenv("PATH")),
		kill:        kill,
		noted:       newNoted(),
	}
	s.runs = newDispatcher(s.serve)
	// Said at start too, not only when the first signal comes: an admin
	// starting the supervisor is there to read it.
	if err := s.checkTriggerDirs(); err != nil {
		s.log.WithError(err).Warn("no trigger will run until this is fixed")
	}
	s.recover()
	if ctx.Err() != nil {
		return nil
	}
	s.watch(ctx)
	cancel()
	s.notify("STOPPING=1")
	if n := s.runs.stop(); n > 0 {
		s.log.Infof("stopping: waiting up to %s for %d running trigger(s)", opt.Grace, n)
	}
	s.runs.wait()
	// Open until every run is over: runs take their signal file through it.
	if d := s.signals.Load(); d != nil {
		d.Close()
	}
	s.log.Info("stopped")
	return nil
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

// lstatSignals returns the lstat of ROOT/events/signals, which must be a
// real directory, not a symlink.
func lstatSignals(root *os.Root) (fs.FileInfo, error) {
	fi, err := root.Lstat(approot.SignalsDir)
	if err != nil {
		return nil, fmt.Errorf("signals directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("signals directory %s is a %s", approot.SignalsDir, kind(fi.Mode()))
	}
	return fi, nil
}

// openSignals opens ROOT/events/signals, which must be a real directory.
func openSignals(root *os.Root) (*os.Root, error) {
	if _, err := lstatSignals(root); err != nil {
		return nil, err
	}
	signals, err := root.OpenRoot(approot.SignalsDir)
	if err != nil {
		return nil, fmt.Errorf("signals directory: %w", err)
	}
	return signals, nil
}

// watch serves the signals directory until ctx is done. While it is
// unusable (missing, not a directory, a symlink), no signal is served: the
// reason is logged once, and the directory is checked again every
// recheckEvery until a real one is back, which is then watched and
// rescanned. So a mistake on the directory neither loses the signals
// written once it is fixed nor makes systemd restart the supervisor in a
// loop.
func (s *supervisor) watch(ctx context.Context) {
	tick := time.NewTicker(recheckEvery)
	defer tick.Stop()
	var unusable string // why the signals directory is unusable, as last logged
	for ready := false; ; ready = true {
		w, err := s.startWatch()
		switch {
		case err == nil:
			unusable = ""
			s.rescan()
			s.log.WithField("dir", w.dir).Info("watching signals")
		case err.Error() != unusable:
			unusable = err.Error()
			s.log.WithError(err).Errorf("signals directory unusable: serving no signals, checking again every %s", recheckEvery)
		}
		if !ready {
			s.notify("READY=1") // up, even if waiting for its directory
		}
		if w == nil {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			continue
		}
		err = s.follow(ctx, w)
		w.close()
		if ctx.Err() != nil {
			return // s.signals stays open for the runs still finishing
		}
		s.log.WithError(err).Warn("lost the signals directory; watching it again once it is a real directory")
		// Pending runs find no signal to take: nothing is served from the
		// directory that moved away.
		s.signals.Swap(nil).Close()
	}
}

// startWatch opens and watches events/signals, and makes it s.signals.
func (s *supervisor) startWatch() (*watcher, error) {
	d, err := openSignals(s.root)
	if err != nil {
		return nil, err
	}
	w, err := watchDir(filepath.Join(s.opt.Root, approot.SignalsDir), d)
	if err != nil {
		d.Close()
		return nil, err
	}
	s.signals.Store(d)
	return w, nil
}

// follow handles the watch's events until ctx is done or the watch is lost,
// and returns why it stopped.
func (s *supervisor) follow(ctx context.Context, w *watcher) error {
	ctx, lose := context.WithCancelCause(ctx)
	defer lose(nil)
	go s.recheck(ctx, s.signals.Load(), lose)
	for {
		seen, err := w.next(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return context.Cause(ctx)
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

// recheck calls lose with the reason once events/signals is no longer the
// directory d. inotify does not report every way of losing a watched
// directory (its removal ends the watch silently), so the name is checked
// whenever its parent events/ reports a change, and once at the start in
// case it changed before that watch was set. Only if events/ cannot be
// watched is it polled, every recheckEvery: an idle supervisor must not
// wake up.
func (s *supervisor) recheck(ctx context.Context, d *os.Root, lose context.CancelCauseFunc) {
	var changes <-chan fsnotify.Event
	var overflows <-chan error
	if pw, err := fsnotify.NewWatcher(); err == nil {
		defer pw.Close()
		if pw.Add(filepath.Join(s.opt.Root, path.Dir(approot.SignalsDir))) == nil {
			changes, overflows = pw.Events, pw.Errors
		}
	}
	// A ticker nothing refers to is collected (Go 1.23): no Stop needed.
	var poll <-chan time.Time
	if changes == nil {
		poll = time.Tick(recheckEvery)
	}
	for check := true; ; {
		if check {
			if err := s.stillSignals(d); err != nil {
				lose(err)
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-changes:
			if !ok {
				changes, overflows, poll = nil, nil, time.Tick(recheckEvery)
			}
			check = !ok || path.Base(ev.Name) == path.Base(approot.SignalsDir)
		case _, ok := <-overflows:
			if !ok {
				overflows = nil
			}
			check = true
		case <-poll:
			check = true
		}
	}
}

// stillSignals returns why events/signals is no longer the directory d, or
// nil.
func (s *supervisor) stillSignals(d *os.Root) error {
	fi, err := lstatSignals(s.root)
	if err != nil {
		return err
	}
	opened, err := d.Stat(".")
	if err == nil && !os.SameFile(fi, opened) {
		err = fmt.Errorf("signals directory %s was replaced", approot.SignalsDir)
	}
	return err
}

func (s *supervisor) notify(state string) {
	if s.opt.Notify != nil {
		s.opt.Notify(state)
	}
}
