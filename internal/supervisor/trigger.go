package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/hoist-dev/hoist/internal/approot"
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
// lstat) is a regular executable file owned by root or euid and writable by
// its owner only. Root runs it, so anyone else able to change it would own
// the machine.
func checkTrigger(fi fs.FileInfo, euid int) error {
	mode := fi.Mode()
	switch {
	case mode&fs.ModeSymlink != 0:
		return fmt.Errorf("%w: is a symlink", ErrUnsafeTrigger)
	case !mode.IsRegular():
		return fmt.Errorf("%w: not a regular file (%s)", ErrUnsafeTrigger, kind(mode))
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

// kind names the type of a file that is not regular.
func kind(mode fs.FileMode) string {
	switch {
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

// processEnv is the environment of triggers and of `hoist recover`: the
// supervisor's own, with HOIST_ROOT set to root and binDir first on PATH so
// that the shipped triggers find `hoist`. NOTIFY_SOCKET is dropped: only the
// supervisor talks to systemd.
func processEnv(base []string, root, binDir string) []string {
	search := defaultPath
	env := make([]string, 0, len(base)+2)
	for _, kv := range base {
		key, value, _ := strings.Cut(kv, "=")
		switch key {
		case "PATH":
			if value != "" {
				search = value
			}
		case approot.EnvRoot, "NOTIFY_SOCKET":
		default:
			env = append(env, kv)
		}
	}
	if binDir != "" {
		search = binDir + ":" + search
	}
	return append(env, approot.EnvRoot+"="+root, "PATH="+search)
}
