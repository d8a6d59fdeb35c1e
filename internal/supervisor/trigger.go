package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/logging"
	"github.com/hoist-dev/hoist/internal/proc"
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
// lstat) is of type typ (0 for a regular file, fs.ModeDir for a directory),
// executable (a directory: searchable), owned by root or euid and writable by
// its owner only. Root runs the trigger, so anyone else able to change it, or
// to replace it in its directory, would own the machine. With typ
// fs.ModeDir|fs.ModeSticky, a directory with the sticky bit (like /tmp) may
// be writable by anyone: only an entry's owner can rename or remove it, and
// the next component of the path must be root's.
func checkTrigger(fi fs.FileInfo, typ fs.FileMode, euid int) error {
	mode := fi.Mode()
	shared := typ&mode&fs.ModeSticky != 0 // sticky, where typ allows it
	search := "executable"
	if typ.IsDir() {
		search = "searchable"
	}
	switch {
	case mode&fs.ModeSymlink != 0:
		return fmt.Errorf("%w: is a symlink", ErrUnsafeTrigger)
	case mode.Type() != typ.Type():
		return fmt.Errorf("%w: not a %s (%s)", ErrUnsafeTrigger, kind(typ), kind(mode))
	case mode.Perm()&0o111 == 0:
		return fmt.Errorf("%w: not %s (mode %04o)", ErrUnsafeTrigger, search, mode.Perm())
	case mode.Perm()&0o022 != 0 && !shared:
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

// A component is a file on the path of a trigger, with the type it must
// have for checkTrigger.
type component struct {
	what, path string // its name in errors; its absolute path
	typ        fs.FileMode
}

// check lstats c and checks it as checkTrigger does; the error names c.
func (c component) check(euid int) error {
	fi, err := os.Lstat(c.path)
	if err == nil {
		err = checkTrigger(fi, c.typ, euid)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", c.what, err)
	}
	return nil
}

// triggerDirs returns the directories on the path of every trigger of the
// app root root (absolute, without symlinks), in the order they are
// checked: /, each directory above root (sticky ones may be writable by
// anyone), root, then root/triggers. root itself may not be shared even if
// sticky: anyone could then plant entries the engine uses, such as a
// staging clone, and change its files after they verify.
func triggerDirs(root string) []component {
	dirs := []component{{"directory " + root, root, fs.ModeDir}}
	for dir := root; dir != filepath.Dir(dir); {
		dir = filepath.Dir(dir)
		dirs = append(dirs, component{"directory " + dir, dir, fs.ModeDir | fs.ModeSticky})
	}
	slices.Reverse(dirs)
	return append(dirs, component{"directory " + approot.TriggersDir, filepath.Join(root, approot.TriggersDir), fs.ModeDir})
}

// checkTriggerPath checks every component of the path of the trigger rel,
// top-down (s.triggerDirs, then the trigger), as checkTrigger does, and
// returns that path to run; the error names what is unsafe. Root runs the
// trigger by its path: anyone able to rename a directory on it could put
// their own in its place between the check and the exec.
func (s *supervisor) checkTriggerPath(rel string) (string, error) {
	if err := s.checkTriggerDirs(); err != nil {
		return "", err
	}
	trigger := component{rel, filepath.Join(s.opt.Root, rel), 0}
	return trigger.path, trigger.check(s.euid)
}

// checkTriggerDirs checks s.triggerDirs, top-down, and returns the first
// unsafe one's error.
func (s *supervisor) checkTriggerDirs() error {
	for _, c := range s.triggerDirs {
		if err := c.check(s.euid); err != nil {
			return err
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
	exe, err := s.checkTriggerPath(rel)
	if err != nil {
		log.WithError(err).Errorf("refusing trigger %s", rel)
		return
	}
	if len(j.target.Args) > 0 {
		log = log.WithField("args", j.target.Args)
	}
	log.Info("trigger started")
	start := time.Now()
	err = s.runProcess(log, j.target.Trigger, exe, j.target.Args)
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
	var se *proc.Error
	return errors.As(err, &se) && se.ExitStatus < 0
}

// runProcess runs a trigger or hoist in its own process group, cwd the
// root, with the trigger timeout; the group is killed when the timeout
// passes or the shutdown grace ends. Output goes to log line by line, a
// logrus JSON line (hoist's, see processEnv) as an entry of its own.
func (s *supervisor) runProcess(log *logrus.Entry, name, path string, args []string) error {
	err := proc.Run(s.kill, proc.Spec{
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
