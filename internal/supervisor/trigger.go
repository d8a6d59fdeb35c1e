package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/logging"
	"github.com/hoist-dev/hoist/internal/scripts"
	"github.com/hoist-dev/hoist/internal/signalname"
)

// ErrUnsafeTrigger is wrapped by every reason to refuse running a trigger.
var ErrUnsafeTrigger = errors.New("unsafe trigger")

// defaultPath is the search path given to triggers when the supervisor has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// resolve returns the trigger serving signal: the first of
// signalname.Targets present in triggers/. Whether it is safe to run is
// checked just before it runs.
func resolve(root *os.Root, signal string) (signalname.Target, bool) {
	for _, t := range signalname.Targets(signal) {
		_, err := root.Lstat(path.Join(approot.TriggersDir, t.Trigger))
		if !errors.Is(err, fs.ErrNotExist) {
			return t, true // present, or unreadable: refused with the reason later
		}
	}
	return signalname.Target{}, false
}

// checkTrigger returns an error wrapping ErrUnsafeTrigger unless fi (from
// lstat) is of type typ (0 for a regular file, fs.ModeDir for the triggers
// directory), executable (searchable), owned by root or euid and writable by
// its owner only. Root runs the trigger, so anyone else able to change it, or
// to replace it in its directory, would own the machine.
func checkTrigger(fi fs.FileInfo, typ fs.FileMode, euid int) error {
	mode := fi.Mode()
	switch {
	case mode&fs.ModeSymlink != 0:
		return fmt.Errorf("%w: is a symlink", ErrUnsafeTrigger)
	case mode.Type() != typ:
		return fmt.Errorf("%w: not a %s (%s)", ErrUnsafeTrigger, kind(typ), kind(mode))
	case mode.Perm()&0o111 == 0:
		return fmt.Errorf("%w: not executable (mode %04o)", ErrUnsafeTrigger, mode.Perm())
	case mode.Perm()&0o022 != 0:
		return fmt.Errorf("%w: writable by group or others (mode %04o)", ErrUnsafeTrigger, mode.Perm())
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%w: owner unknown", ErrUnsafeTrigger)
	}
	if st.Uid != 0 && int64(st.Uid) != int64(euid) {
		return fmt.Errorf("%w: owned by uid %d, not root", ErrUnsafeTrigger, st.Uid)
	}
	return nil
}

// checkTriggerPath checks the triggers directory, then the trigger rel in
// it, as checkTrigger does; the error names what is unsafe.
func (s *supervisor) checkTriggerPath(rel string) error {
	for _, c := range []struct {
		what, path string
		typ        fs.FileMode
	}{{"directory " + approot.TriggersDir, approot.TriggersDir, fs.ModeDir}, {rel, rel, 0}} {
		fi, err := s.root.Lstat(c.path)
		if err == nil {
			err = checkTrigger(fi, c.typ, s.euid)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", c.what, err)
		}
	}
	return nil
}

// serve consumes j's signal and runs its trigger; the dispatcher calls it
// for one job of a trigger at a time.
func (s *supervisor) serve(j job) {
	if !s.take(j.signal) {
		return // already served, withdrawn, or replaced by something refused
	}
	log := s.log.WithFields(logrus.Fields{"trigger": j.target.Trigger, "signal": j.signal})
	rel := path.Join(approot.TriggersDir, j.target.Trigger)
	if err := s.checkTriggerPath(rel); err != nil {
		log.WithError(err).Errorf("refusing trigger %s", rel)
		return
	}
	if len(j.target.Args) > 0 {
		log = log.WithField("args", j.target.Args)
	}
	log.Info("trigger started")
	start := time.Now()
	err := s.runProcess(log, j.target.Trigger, filepath.Join(s.opt.Root, rel), j.target.Args)
	log = log.WithField("duration", time.Since(start).Round(time.Millisecond).String())
	if err != nil {
		log.WithError(err).Error("trigger failed")
		if killed(err) {
			// A trigger that did not exit by itself (killed, timed out)
			// may have left an update half done: settle it now rather than
			// at the next start, or the status stays at installing.
			s.recover()
		}
		return
	}
	log.Info("trigger finished")
}

// killed reports whether a trigger run ended without exiting by itself.
func killed(err error) bool {
	var se *scripts.Error
	return errors.As(err, &se) && se.ExitStatus < 0
}

// runProcess runs a trigger or hoist in its own process group, cwd the
// root, with the trigger timeout; the group is killed when the timeout
// passes or the shutdown grace ends. Output goes to log line by line, a
// logrus JSON line (hoist's, see processEnv) as an entry of its own.
func (s *supervisor) runProcess(log *logrus.Entry, name, path string, args []string) error {
	_, err := scripts.Run(s.kill, scripts.Spec{
		Name:    name,
		Path:    path,
		Args:    args,
		Dir:     s.opt.Root,
		Env:     s.env,
		Timeout: s.opt.TriggerTimeout,
		Logger:  log,
		// Triggers are root's own, as trusted as the supervisor.
		StructuredOutput: true,
	})
	return err
}

// kind names the type of a file.
func kind(mode fs.FileMode) string {
	switch {
	case mode.IsRegular():
		return "regular file"
	case mode&fs.ModeSymlink != 0:
		return "symlink"
	case mode.IsDir():
		return "directory"
	case mode&fs.ModeNamedPipe != 0:
		return "fifo"
	case mode&fs.ModeSocket != 0:
		return "socket"
	case mode&fs.ModeDevice != 0:
		return "device"
	}
	return "type " + mode.Type().String()
}

// processEnv is what triggers and `hoist recover` get on top of the
// supervisor's environment: HOIST_ROOT, and binDir first on PATH (search,
// or a default when empty) so that the shipped triggers find `hoist`.
// HOIST_LOG_FORMAT=json makes hoist log JSON, which runProcess lifts into
// entries of the supervisor's log. NOTIFY_SOCKET is emptied: only the
// supervisor talks to systemd.
func processEnv(root, binDir, search string) []string {
	if search == "" {
		search = defaultPath
	}
	if binDir != "" {
		search = binDir + ":" + search
	}
	return []string{approot.EnvRoot + "=" + root, "PATH=" + search, logging.EnvFormat + "=json", "NOTIFY_SOCKET="}
}
