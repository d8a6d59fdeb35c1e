package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/lock"
	"github.com/hoist-dev/hoist/internal/safefs"
	"github.com/hoist-dev/hoist/internal/signalname"
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
	launch  *launcher
	runs    *dispatcher
	noted   *noted
}

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
	if err != nil {
		return fmt.Errorf("another hoist-supervisor is running for %s: %w", opt.Root, err)
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
		noted: newNoted(),
		launch: &launcher{
			dir:     opt.Root,
			env:     processEnv(os.Environ(), opt.Root, opt.BinDir),
			timeout: opt.TriggerTimeout,
			kill:    kill,
		},
	}
	s.runs = newDispatcher(s.serve)
	s.recover()
	if ctx.Err() != nil {
		return nil
	}
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

// watch handles the signals directory until ctx is done (nil) or the watch
// is lost (error).
func (s *supervisor) watch(ctx context.Context) error {
	if fi, err := s.root.Lstat(approot.SignalsDir); err != nil {
		return fmt.Errorf("signals directory: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("signals directory %s is not a directory (%s)", approot.SignalsDir, fi.Mode().Type())
	}
	signals, err := s.root.OpenRoot(approot.SignalsDir)
	if err != nil {
		return fmt.Errorf("signals directory: %w", err)
	}
	defer signals.Close()
	s.signals = signals
	w, err := watchDir(filepath.Join(s.opt.Root, approot.SignalsDir), signals)
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

func (s *supervisor) rescan() {
	if err := rescan(s.signals, func(name string) { s.sighted(name, true) }); err != nil {
		s.log.WithError(err).Error("rescan failed")
	}
}

// sighted handles an entry of the signals directory; complete means it was
// closed after writing, moved in, or found by a rescan.
func (s *supervisor) sighted(name string, complete bool) {
	if err := signalname.Check(name); err != nil {
		if strings.HasPrefix(name, safefs.TempPrefix) {
			return // a writer's atomic replace in progress: renamed to its real name next
		}
		s.refuse(name, err.Error(), "ignoring entry in signals directory: invalid signal name")
		return
	}
	if _, ok := s.lstatSignal(name); !ok || !complete {
		return // gone, refused, or still being written: its close-write comes later
	}
	t, ok := resolve(s.root, name)
	if !ok {
		if s.take(name) {
			s.log.WithField("signal", name).Warnf("no trigger for signal %s", name)
		}
		return
	}
	if !s.runs.request(job{signal: name, target: t}) && s.take(name) {
		s.log.WithFields(logrus.Fields{"signal": name, "trigger": t.Trigger}).
			Warn("dropping signal: supervisor stopping or too many signals waiting for this trigger")
	}
}

// lstatSignal returns the entry name, reporting it (once) when it is not a
// regular file. ok is false when the entry is gone or refused.
func (s *supervisor) lstatSignal(name string) (fs.FileInfo, bool) {
	fi, err := s.signals.Lstat(name)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.log.WithError(err).WithField("signal", name).Error("cannot inspect signal")
		}
		return nil, false
	}
	if !fi.Mode().IsRegular() {
		s.refuse(name, kind(fi.Mode()), "refusing signal: not a regular file")
		return nil, false
	}
	return fi, true
}

// refuse logs msg about name, once per name and reason.
func (s *supervisor) refuse(name, reason, msg string) {
	switch news, full := s.noted.add(name, reason); {
	case full:
		s.log.Warnf("more than %d refused names in the signals directory; not logging further ones", maxNoted)
	case news:
		s.log.WithFields(logrus.Fields{"name": name, "reason": reason}).Warn(msg)
	}
}

// take removes the signal file name if it is a regular file, reporting
// whether it did: only then is the signal consumed.
func (s *supervisor) take(name string) bool {
	if _, ok := s.lstatSignal(name); !ok {
		return false
	}
	if err := s.signals.Remove(name); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.log.WithError(err).WithField("signal", name).Error("cannot remove signal file")
		}
		return false
	}
	s.noted.forget(name)
	return true
}

// serve consumes j's signal and runs its trigger; the dispatcher calls it
// for one job of a trigger at a time.
func (s *supervisor) serve(j job) {
	if !s.take(j.signal) {
		return // already served, withdrawn, or replaced by something refused
	}
	log := s.log.WithFields(logrus.Fields{"trigger": j.target.Trigger, "signal": j.signal})
	rel := path.Join(approot.TriggersDir, j.target.Trigger)
	fi, err := s.root.Lstat(rel)
	if err == nil {
		err = checkTrigger(fi, s.euid)
	}
	if err != nil {
		log.WithError(err).Errorf("refusing trigger %s", rel)
		return
	}
	argv := append([]string{filepath.Join(s.opt.Root, rel)}, j.target.Args...)
	if len(j.target.Args) > 0 {
		log = log.WithField("args", j.target.Args)
	}
	log.Info("trigger started")
	start := time.Now()
	err = s.launch.run(log, argv)
	log = log.WithField("duration", time.Since(start).Round(time.Millisecond).String())
	if err != nil {
		log.WithError(err).Error("trigger failed")
		return
	}
	log.Info("trigger finished")
}

// recover runs `hoist recover` so that an update interrupted by a crash is
// finished or undone before new signals are served. Its failure is logged,
// not fatal: the supervisor must keep serving rollbacks and new updates.
func (s *supervisor) recover() {
	log := s.log.WithField("command", "hoist recover")
	hoist, err := s.hoistBinary()
	if err != nil {
		log.WithError(err).Error("cannot run hoist recover; continuing without")
		return
	}
	log.WithField("path", hoist).Info("running hoist recover")
	if err := s.launch.run(log, []string{hoist, "recover", "--root", s.opt.Root}); err != nil {
		log.WithError(err).Error("hoist recover failed; continuing")
		return
	}
	log.Info("hoist recover finished")
}

// hoistBinary finds `hoist` next to the supervisor, else on PATH.
func (s *supervisor) hoistBinary() (string, error) {
	if s.opt.BinDir != "" {
		if p, err := exec.LookPath(filepath.Join(s.opt.BinDir, "hoist")); err == nil {
			return p, nil
		}
	}
	return exec.LookPath("hoist")
}

func (s *supervisor) notify(state string) {
	if s.opt.Notify != nil {
		s.opt.Notify(state)
	}
}
