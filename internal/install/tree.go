package install

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hoist-dev/hoist/internal/safefs"
)

// A Tree reaches the paths of a root through directories it opens once and
// keeps open, so that each operation on a path is one system call on the
// path's last name relative to its directory's descriptor. Through os.Root
// every call walks the whole path again, an open and a close per
// directory on the way.
//
// A Tree never follows a symlink: it opens each directory from its parent's
// descriptor, one name at a time, with O_NOFOLLOW|O_DIRECTORY, and treats a
// path below anything that is not a real directory (a symlink, a file,
// nothing) as unreachable. Once opened, a descriptor keeps referring to the
// directory it opened for as long as the Tree keeps it (one Apply, one
// series of Stats, unless trim closes it sooner): if that directory is
// replaced by a symlink meanwhile, the Tree goes on reading and writing the
// real directory, never where the symlink points; if the directory is
// moved, even out of the root, the Tree follows it there, just as os.Root
// follows its own directory; if it is removed, creating names in it fails.
// A directory opened again (by a later Tree, or after trim) is checked
// again, and a symlink then refused.
//
// The directories are held as *os.File and every system call on one goes
// through safefs.Control: an entry got before trim or forget closed its
// directory fails with os.ErrClosed, never reaching whatever directory the
// kernel gave the descriptor number to since.
//
// A Tree is not safe for concurrent use: give each goroutine its own.
type Tree struct {
	root *os.Root
	dirs map[string]*os.File // open directories by clean path, "." for the root's own
}

// maxOpenDirs bounds the descriptors a Tree keeps. Past it, trim closes
// them all: callers go through paths in sorted order, so the directories
// in use are opened again at most once per trim.
const maxOpenDirs = 256

// NewTree returns a Tree of root. It opens directories as they are needed;
// Close closes them.
func NewTree(root *os.Root) *Tree { return &Tree{root: root} }

// Close closes the directories t opened. t opens them again if used after.
func (t *Tree) Close() error {
	return t.closeDirs(func(string) bool { return true })
}

// trim closes the open directories if there are too many. Entries got
// before fail with os.ErrClosed after: callers get one per operation.
func (t *Tree) trim() {
	if len(t.dirs) > maxOpenDirs {
		t.closeDirs(func(p string) bool { return p != "." })
	}
}

// forget closes the directory p and those below it after p was removed, so
// that no later call creates a file in a deleted directory.
func (t *Tree) forget(p string) {
	t.closeDirs(func(q string) bool { return q == p || strings.HasPrefix(q, p+"/") })
}

// closeDirs closes the open directories whose path matches.
func (t *Tree) closeDirs(match func(p string) bool) error {
	var errs []error
	for p, d := range t.dirs {
		if match(p) {
			errs = append(errs, d.Close())
			delete(t.dirs, p)
		}
	}
	return errors.Join(errs...)
}

// errNoDir means a path cannot be reached: a directory on the way is
// missing or is not a real directory (a symlink, a file).
var errNoDir = errors.New("is missing or not a real directory")

// dir returns the open directory p (a clean path), opening it and its
// ancestors as needed. With create, missing directories are made (mode
// 0755 before the umask); an error matching errNoDir then means one is not
// a real directory.
func (t *Tree) dir(p string, create bool) (*os.File, error) {
	if d, ok := t.dirs[p]; ok {
		return d, nil
	}
	if p == "." {
		f, err := t.root.Open(".")
		if err != nil {
			return nil, err
		}
		return t.keep(p, f), nil
	}
	parent, err := t.dir(path.Dir(p), create)
	if err != nil {
		return nil, err
	}
	name := path.Base(p)
	f, err := openDir(parent, name)
	if err == unix.ENOENT && create {
		err = safefs.Control(parent, func(fd int) error { return unix.Mkdirat(fd, name, 0o755) })
		if err != nil && err != unix.EEXIST {
			return nil, &fs.PathError{Op: "create directory", Path: p, Err: err}
		}
		f, err = openDir(parent, name)
	}
	switch err {
	case nil:
	case unix.ENOENT, unix.ENOTDIR, unix.ELOOP: // ELOOP: a symlink, refused by O_NOFOLLOW
		return nil, fmt.Errorf("%s %w", p, errNoDir)
	default:
		return nil, &fs.PathError{Op: "open directory", Path: p, Err: err}
	}
	return t.keep(p, f), nil
}

// keep keeps f open as the directory p.
func (t *Tree) keep(p string, f *os.File) *os.File {
	if t.dirs == nil {
		t.dirs = map[string]*os.File{}
	}
	t.dirs[p] = f
	return f
}

// openDir opens the real directory name in parent: a symlink fails with
// ELOOP.
func openDir(parent *os.File, name string) (*os.File, error) {
	return safefs.OpenAt(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW)
}

// entry is a path as every operation uses it: one name in an open
// directory.
type entry struct {
	dir  *os.File // the open parent directory; never closed by its user
	name string   // one path component (or "." for the root itself)
	path string   // the whole path, for errors
}

// at returns the entry of p, opening (with create, making) its parent
// directories as needed. An error matching errNoDir means p cannot be
// reached without following something that is not a real directory.
func (t *Tree) at(p string, create bool) (entry, error) {
	p, err := clean(p)
	if err != nil {
		return entry{}, err
	}
	d, err := t.dir(path.Dir(p), create)
	if err != nil {
		return entry{}, err
	}
	return entry{dir: d, name: path.Base(p), path: p}, nil
}

// clean returns p cleaned, refusing a path that leaves the root: a Tree
// opens names one by one, so ".." would really go up.
func clean(p string) (string, error) {
	c := path.Clean(p)
	if !fs.ValidPath(c) {
		return "", &fs.PathError{Op: "resolve", Path: p, Err: errors.New("path leaves the root")}
	}
	return c, nil
}

func (e entry) lstat() (unix.Stat_t, error) {
	var st unix.Stat_t
	err := safefs.Control(e.dir, func(fd int) error { return unix.Fstatat(fd, e.name, &st, unix.AT_SYMLINK_NOFOLLOW) })
	if err != nil {
		return st, &fs.PathError{Op: "lstat", Path: e.path, Err: err}
	}
	return st, nil
}

// openRegular opens e for reading if it is a regular file, without
// following a symlink or blocking on a fifo, and returns its stat.
func (e entry) openRegular() (*os.File, unix.Stat_t, error) {
	var st unix.Stat_t
	f, err := safefs.OpenAt(e.dir, e.name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK)
	if err != nil {
		return nil, st, &fs.PathError{Op: "open", Path: e.path, Err: err}
	}
	if err := safefs.Control(f, func(fd int) error { return unix.Fstat(fd, &st) }); err != nil {
		f.Close()
		return nil, st, &fs.PathError{Op: "stat", Path: e.path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		f.Close()
		return nil, st, fmt.Errorf("%s is not a regular file", e.path)
	}
	return f, st, nil
}

func (e entry) readlink() (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		var n int
		err := safefs.Control(e.dir, func(fd int) (err error) {
			n, err = unix.Readlinkat(fd, e.name, buf)
			return err
		})
		if err != nil {
			return "", &fs.PathError{Op: "readlink", Path: e.path, Err: err}
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// unlink removes e, a directory (only if empty) with flags AT_REMOVEDIR.
func (e entry) unlink(flags int) error {
	return safefs.Control(e.dir, func(fd int) error { return unix.Unlinkat(fd, e.name, flags) })
}

// remove unlinks e, a directory (only if empty) when dir is set.
func (t *Tree) remove(e entry, dir bool) error {
	flags := 0
	if dir {
		flags = unix.AT_REMOVEDIR
	}
	if err := e.unlink(flags); err != nil {
		return &fs.PathError{Op: "remove", Path: e.path, Err: err}
	}
	if dir {
		t.forget(e.path)
	}
	return nil
}

// mkdir creates the directory e with mode and keeps it open for the paths
// below it.
func (t *Tree) mkdir(e entry, mode fs.FileMode) error {
	if err := safefs.Control(e.dir, func(fd int) error { return unix.Mkdirat(fd, e.name, uint32(mode.Perm())) }); err != nil {
		return &fs.PathError{Op: "create directory", Path: e.path, Err: err}
	}
	f, err := openDir(e.dir, e.name)
	if err != nil {
		return &fs.PathError{Op: "open directory", Path: e.path, Err: err}
	}
	t.keep(e.path, f)
	// Set the mode explicitly: the umask must not change it.
	if err := safefs.Control(f, func(fd int) error { return unix.Fchmod(fd, sysMode(mode)) }); err != nil {
		return &fs.PathError{Op: "chmod", Path: e.path, Err: err}
	}
	return nil
}

func symlink(target string, e entry) error {
	if err := safefs.Control(e.dir, func(fd int) error { return unix.Symlinkat(target, fd, e.name) }); err != nil {
		return &fs.PathError{Op: "create symlink", Path: e.path, Err: err}
	}
	return nil
}

// between runs fn on the descriptors of a's and b's directories.
func between(a, b entry, fn func(afd, bfd int) error) error {
	return safefs.Control(a.dir, func(afd int) error {
		return safefs.Control(b.dir, func(bfd int) error { return fn(afd, bfd) })
	})
}

// link makes dst a hard link to src itself (a symlink is not followed).
func link(src, dst entry) error {
	err := between(src, dst, func(sfd, dfd int) error { return unix.Linkat(sfd, src.name, dfd, dst.name, 0) })
	if err != nil {
		return &os.LinkError{Op: "link", Old: src.path, New: dst.path, Err: err}
	}
	return nil
}

// rename moves tmp over name, or removes tmp.
func rename(tmp, name entry) error {
	err := between(tmp, name, func(tfd, nfd int) error { return unix.Renameat(tfd, tmp.name, nfd, name.name) })
	if err != nil {
		tmp.unlink(0)
		return fmt.Errorf("rename into %s: %w", name.path, err)
	}
	return nil
}

// specialBits pairs the mode bits a Node keeps beyond the permissions
// (setuid, setgid, sticky: a restored file has exactly its old mode) with
// their system values.
var specialBits = [...]struct {
	mode fs.FileMode
	sys  uint32
}{{fs.ModeSetuid, unix.S_ISUID}, {fs.ModeSetgid, unix.S_ISGID}, {fs.ModeSticky, unix.S_ISVTX}}

// nodeMode returns st's mode bits as a Node keeps them.
func nodeMode(st *unix.Stat_t) fs.FileMode {
	m := fs.FileMode(st.Mode & 0o777)
	for _, b := range specialBits {
		if st.Mode&b.sys != 0 {
			m |= b.mode
		}
	}
	return m
}

// sysMode returns m as chmod(2) takes it.
func sysMode(m fs.FileMode) uint32 {
	s := uint32(m.Perm())
	for _, b := range specialBits {
		if m&b.mode != 0 {
			s |= b.sys
		}
	}
	return s
}

func sameFile(a, b *unix.Stat_t) bool { return a.Dev == b.Dev && a.Ino == b.Ino }
