package supervisor

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/hoist-dev/hoist/internal/safefs"
	"github.com/hoist-dev/hoist/internal/signalname"
)

// rescan handles every entry of the signals directory as complete: what
// is there at start or after lost events.
func (s *supervisor) rescan() {
	if err := rescan(s.signals.Load(), func(name string) { s.sighted(name, true) }); err != nil {
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
	fi, ok := s.regular(s.signals.Load(), name)
	if !ok || !complete && !linked(fi) {
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
			Warnf("dropping signal: more than %d signals waiting for trigger %s", maxPending, t.Trigger)
	}
}

// regular returns the entry name of signals and whether it is a regular
// file, reporting it (once) when it is anything else. It never opens the
// entry.
func (s *supervisor) regular(signals *os.Root, name string) (fs.FileInfo, bool) {
	fi, err := signals.Lstat(name)
	if err != nil {
		// Closed: the directory was lost while a run was about to take it.
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, os.ErrClosed) {
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

// linked reports whether a regular file has more than one name: then its
// creation was a link(2) of a file written elsewhere, complete, and no
// close-write will follow in the signals directory.
func linked(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Nlink > 1
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
// whether it did: only then is the signal consumed. Nothing is taken while
// the signals directory is unusable.
func (s *supervisor) take(name string) bool {
	signals := s.signals.Load()
	if signals == nil {
		return false
	}
	if _, ok := s.regular(signals, name); !ok {
		return false
	}
	if err := signals.Remove(name); err != nil {
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, os.ErrClosed) {
			s.log.WithError(err).WithField("signal", name).Error("cannot remove signal file")
		}
		return false
	}
	s.noted.forget(name)
	return true
}
