// Package install puts paths of a directory tree into a wanted state: a
// regular file with given content and mode, a symlink, a directory, or
// nothing. The engine uses it to install a release, to restore a backup and
// to undo a half-done update; all three are "make these paths look like
// this".
//
// Invariants:
//   - Every change to one path is a single atomic step (rename of a fully
//     written temp name, unlink, mkdir, rmdir), so a crash leaves each path
//     either as it was or as wanted, plus at most a temp file whose name
//     starts with safefs.TempPrefix, which the next Apply over the same
//     paths sweeps away.
//   - Apply is idempotent, so after a crash the same Apply can simply run
//     again: directories and symlinks already as wanted are left alone, and
//     so is a file already linked from its source; any other file is put
//     in place again (the same content, atomically).
//   - Content is checked against the wanted sha256 right before it is put in
//     place (unless the caller just hashed it), so a source changed since it
//     was verified is an error, never installed.
//   - Nothing is written through a symlink: every path is reached from
//     root's directory one name at a time, each directory opened with
//     O_NOFOLLOW|O_DIRECTORY, and a path whose parent is not a real
//     directory is treated as absent and never written below. Apply opens
//     each directory once and keeps it open (see Tree for what that means
//     when the tree is changed under a running Apply).
//   - A directory is only ever removed when empty: files that Apply was not
//     told about (the user's) are never deleted.
//   - When Apply returns nil, its changes are on disk (syncfs).
package install

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/hoist-dev/hoist/internal/safefs"
)

// ErrSource means a file's source does not hold the wanted content or mode.
var ErrSource = errors.New("source does not match")

// ErrConflict means a path cannot take its wanted state without deleting
// something Apply was not told about (a non-empty directory, say).
var ErrConflict = errors.New("path is in the way")

// Options say where content comes from and how it is put in place.
type Options struct {
	// From is the directory, relative to the root, holding the content of
	// every File node at the node's own path below it.
	From string
	// To is the directory, relative to the root, in which the nodes' paths
	// lie ("" for the root itself).
	To string
	// Copy copies content; by default a file is hard-linked from its source
	// (no space, no time), falling back to a copy where links fail.
	Copy bool
	// CopyShared copies a source that has other hard links and links only
	// the rest: a staged file linked from the object cache (objcache.Link)
	// must never become a live file, which the app may write in place.
	CopyShared bool
	// Trusted skips hashing the sources: the caller hashed them just now
	// (backup.Capture, whose source is the live file it just read).
	Trusted bool
	// Progress, if set, is called after each node of the install pass.
	Progress func(done, total int)
}

// Apply brings every node's path in root to the node's state. Removals run
// deepest first, creations shallowest first, so a directory can turn into a
// file and back. A directory that should go but holds files Apply was not
// told about stays. Every directory is opened (and checked) once, through
// one Tree for the whole call.
func Apply(ctx context.Context, root *os.Root, nodes []Node, opts Options) error {
	t := NewTree(root)
	defer t.Close()
	nodes = sortedByDepth(nodes)
	if err := t.sweepAll(nodes, opts); err != nil {
		return err
	}
	for i := len(nodes) - 1; i >= 0; i-- {
		t.trim()
		if err := t.clear(nodes[i], opts.dst(nodes[i].Path)); err != nil {
			return err
		}
	}
	for i, n := range nodes {
		if err := ctx.Err(); err != nil {
			return err
		}
		t.trim()
		if err := t.put(n, opts); err != nil {
			return err
		}
		if opts.Progress != nil {
			opts.Progress(i+1, len(nodes))
		}
	}
	return safefs.SyncFS(root)
}

func (o Options) dst(p string) string { return path.Join(o.To, p) }

func sortedByDepth(nodes []Node) []Node {
	s := append([]Node(nil), nodes...)
	sort.SliceStable(s, func(i, j int) bool {
		di, dj := strings.Count(s[i].Path, "/"), strings.Count(s[j].Path, "/")
		if di != dj {
			return di < dj
		}
		return s[i].Path < s[j].Path
	})
	return s
}

// sweepAll removes temp files left in the nodes' directories by a crash,
// so that directories to be removed are empty again.
func (t *Tree) sweepAll(nodes []Node, opts Options) error {
	seen := map[string]bool{}
	for _, n := range nodes {
		dir := path.Dir(opts.dst(n.Path))
		if seen[dir] {
			continue
		}
		seen[dir] = true
		t.trim()
		if err := t.sweep(dir); err != nil {
			return err
		}
	}
	return nil
}

// sweep is safefs.Sweep through t's open directories.
func (t *Tree) sweep(dir string) error {
	dir, err := clean(dir)
	if err != nil {
		return err
	}
	d, err := t.dir(dir, false)
	if errors.Is(err, errNoDir) {
		return nil // nothing to sweep
	}
	if err != nil {
		return err
	}
	return safefs.SweepDir(d)
}

// clear removes what is at dst when it is in the way of n: anything when n
// is Absent (an empty directory only), a directory when n is a file or
// symlink, a file or symlink when n is a directory.
func (t *Tree) clear(n Node, dst string) error {
	e, err := t.at(dst, false)
	if errors.Is(err, errNoDir) {
		return nil
	}
	if err != nil {
		return err
	}
	st, err := e.lstat()
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	switch {
	case n.Kind == Absent && isDir:
		if err := t.remove(e, true); err != nil && !notEmpty(err) && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	case n.Kind == Absent || (n.Kind == Dir && !isDir):
		if err := t.remove(e, false); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	case n.Kind != Dir && isDir:
		if err := t.remove(e, true); err != nil {
			if notEmpty(err) {
				return fmt.Errorf("%w: %s is a directory that is not empty", ErrConflict, dst)
			}
			return err
		}
	}
	return nil
}

func notEmpty(err error) bool {
	return errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)
}

// put creates n unless its path already is as wanted. Missing directories
// above it are made; one that is not a real directory is refused, since
// writing below it would follow it.
func (t *Tree) put(n Node, opts Options) error {
	if n.Kind == Absent {
		return nil
	}
	dst, err := t.at(opts.dst(n.Path), true)
	if errors.Is(err, errNoDir) {
		return fmt.Errorf("%w: %v, so %s cannot be written", ErrConflict, err, opts.dst(n.Path))
	}
	if err != nil {
		return err
	}
	cur, err := dst.lstat()
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	switch n.Kind {
	case Dir:
		if exists {
			return nil // clear removed anything else
		}
		return t.mkdir(dst, n.Mode)
	case Link:
		if exists && cur.Mode&unix.S_IFMT == unix.S_IFLNK {
			if target, err := dst.readlink(); err == nil && target == n.Link {
				return nil
			}
		}
		tmp := dst.temp()
		if err := symlink(n.Link, tmp); err != nil {
			return err
		}
		return rename(tmp, dst)
	case File:
		var was *unix.Stat_t
		if exists {
			was = &cur
		}
		return t.putFile(n, dst, was, opts)
	}
	return fmt.Errorf("%s: unknown kind %q", n.Path, n.Kind)
}

// putFile puts n's source at dst, whose current stat is cur (nil when
// absent).
func (t *Tree) putFile(n Node, dst entry, cur *unix.Stat_t, opts Options) error {
	src, err := t.at(path.Join(opts.From, n.Path), false)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSource, err)
	}
	f, fi, err := src.openRegular()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSource, err)
	}
	defer f.Close()
	if cur != nil && sameFile(cur, &fi) {
		return nil // linked in place by an earlier run
	}
	if !opts.Trusted {
		sum, err := hashReader(f)
		if err != nil {
			return fmt.Errorf("read %s: %w", src.path, err)
		}
		if sum != n.SHA256 {
			return fmt.Errorf("%w: %s has sha256 %s, want %s", ErrSource, src.path, sum[:12], n.SHA256[:min(12, len(n.SHA256))])
		}
	}
	if !opts.Copy && !(opts.CopyShared && fi.Nlink > 1) && nodeMode(&fi) == n.Mode {
		tmp := dst.temp()
		err := link(src, tmp)
		if err == nil {
			// The link is made by name: check that it is the inode just
			// hashed, not one put in its place since.
			if linked, err := tmp.lstat(); err != nil || !sameFile(&linked, &fi) {
				tmp.unlink(0)
				return fmt.Errorf("%w: %s changed while it was installed", ErrSource, src.path)
			}
			return rename(tmp, dst)
		}
		if !linkUnsupported(err) {
			return err
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return writeCopy(dst, f, n.Mode)
}

// linkUnsupported reports errors after which copying still works: another
// filesystem, a filesystem without hard links, a full link count.
func linkUnsupported(err error) bool {
	return errors.Is(err, syscall.EXDEV) || errors.Is(err, syscall.EPERM) ||
		errors.Is(err, syscall.EMLINK) || errors.Is(err, syscall.EOPNOTSUPP)
}

// writeCopy puts a copy of r at dst with mode, atomically: like
// safefs.Write (and with its Fill), an exclusive temp name next to dst,
// fsynced, renamed over it; but in dst's open directory instead of through
// a path. The directory
// itself is made durable by Apply's final syncfs.
func writeCopy(dst entry, r io.Reader, mode fs.FileMode) error {
	tmp := dst.temp()
	f, err := safefs.OpenAt(tmp.dir, tmp.name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW)
	if err != nil {
		return fmt.Errorf("create temp file for %s: %w", dst.path, err)
	}
	if err := safefs.Fill(f, r, mode); err != nil {
		tmp.unlink(0)
		return fmt.Errorf("write %s: %w", dst.path, err)
	}
	return rename(tmp, dst)
}

// temp returns a fresh name next to e that sweep recognises, short enough
// for any file name.
func (e entry) temp() entry {
	var b [8]byte
	rand.Read(b[:])
	name := safefs.TempPrefix + e.name[:min(len(e.name), 100)] + "-" + hex.EncodeToString(b[:])
	return entry{dir: e.dir, name: name, path: path.Join(path.Dir(e.path), name)}
}
