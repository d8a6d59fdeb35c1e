package proc

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/hoist-dev/hoist/internal/iobuf"
	"github.com/hoist-dev/hoist/internal/safefs"
)

// Script is an update script that Open checked, ready for Spec.Script. It
// holds the script's directory open; Close releases it.
type Script struct {
	dir  *os.File // the directory holding the script, reached without links
	name string
}

// scriptDirFD is the descriptor number of Script.dir in the child: the first
// of exec.Cmd.ExtraFiles.
const scriptDirFD = 3

// execPath names the script through the child's open descriptor of its
// directory. The kernel looks up only the last name, in a directory that
// Open found to be changeable by its owner alone; and "$(dirname "$0")"
// still names the script's directory, which release scripts rely on to
// source their helpers (a descriptor of the file itself would make $0
// /proc/self/fd/N, with no directory).
func (s *Script) execPath() string {
	return "/proc/self/fd/" + strconv.Itoa(scriptDirFD) + "/" + s.name
}

// Close releases the script's directory.
func (s *Script) Close() error { return s.dir.Close() }

// Open opens the update script rel (slash-separated, relative to tree) to be
// run as root, if it is exactly the file a verified manifest lists with the
// sha256 sum: every directory on the way is opened from the one before it
// with O_NOFOLLOW, so none may be a symlink, and each must be owned by root
// or by this process's user and not writable by group or others; the script
// must be a regular file of that kind whose content has the sum. Whoever
// could have written through a symlink or into such a directory (the
// manager writes statuses/) thus never chooses what root runs. A refusal
// is an *Error, so it is reported like a script that failed.
func Open(tree *os.Root, rel, sum string) (*Script, error) {
	s, err := open(tree, rel, sum)
	if err != nil {
		return nil, NotRun(path.Base(rel), err)
	}
	return s, nil
}

// NotRun is the *Error of script name, refused before it started because
// of err.
func NotRun(name string, err error) *Error {
	return &Error{Name: name, ExitStatus: -1, Err: fmt.Errorf("was not run: %w", err)}
}

func open(tree *os.Root, rel, sum string) (*Script, error) {
	dir, err := tree.Open(".")
	if err != nil {
		return nil, err
	}
	walked := ""
	for name := range strings.SplitSeq(path.Dir(rel), "/") {
		if name == "." {
			break
		}
		walked = path.Join(walked, name)
		next, err := openAt(dir, name, walked, true)
		dir.Close()
		if err != nil {
			return nil, err
		}
		dir = next
	}
	f, err := openAt(dir, path.Base(rel), rel, false)
	if err == nil {
		err = checkContent(f, rel, sum)
		f.Close()
	}
	if err != nil {
		dir.Close()
		return nil, err
	}
	return &Script{dir: dir, name: path.Base(rel)}, nil
}

// openAt opens name in dir without following a symlink and checks that
// what it opened is a directory (wantDir) or a regular file that only its
// owner, root or this process's user, can change. rel names it in errors.
// O_NONBLOCK: a fifo must not block the open; it is refused after.
func openAt(dir *os.File, name, rel string, wantDir bool) (*os.File, error) {
	f, err := safefs.OpenAt(dir, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK)
	switch {
	case errors.Is(err, unix.ELOOP):
		return nil, fmt.Errorf("%s is a symlink", rel)
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", rel, err)
	}
	if err := checkFile(f, rel, wantDir); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func checkFile(f *os.File, rel string, wantDir bool) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !ok:
		return fmt.Errorf("%s: no owner information", rel)
	case wantDir && !fi.IsDir():
		return fmt.Errorf("%s is not a directory", rel)
	case !wantDir && !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", rel)
	case st.Uid != 0 && int(st.Uid) != os.Geteuid():
		return fmt.Errorf("%s is owned by uid %d", rel, st.Uid)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%s is writable by group or others", rel)
	}
	return nil
}

func checkContent(f *os.File, rel, sum string) error {
	h := sha256.New()
	if _, err := iobuf.Copy(h, f); err != nil {
		return fmt.Errorf("read %s: %w", rel, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != sum {
		return fmt.Errorf("%s: content differs from the verified release", rel)
	}
	return nil
}
