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
//   - Nothing is written through a symlink: every access goes through an
//     *os.Root and a path whose parent is not a real directory is treated
//     as absent and never written below.
//   - A directory is only ever removed when empty: files that Apply was not
//     told about (the user's) are never deleted.
//   - When Apply returns nil, its changes are on disk (syncfs).
package install

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/hoist-dev/hoist/internal/iobuf"
	"github.com/hoist-dev/hoist/internal/safefs"
)

// Kind is what a path is.
type Kind string

// The kinds of Node.
const (
	Absent Kind = "absent"
	File   Kind = "file"
	Link   Kind = "link"
	Dir    Kind = "dir"
)

// modeBits are the mode bits a Node keeps: permissions plus setuid, setgid
// and sticky, so a restored file has exactly its old mode.
const modeBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// Node is the state of one path, relative to the tree's root.
type Node struct {
	Path   string      `json:"path"`
	Kind   Kind        `json:"kind"`
	SHA256 string      `json:"sha256,omitempty"` // File
	Mode   fs.FileMode `json:"mode,omitempty"`   // File and Dir
	Link   string      `json:"link,omitempty"`   // Link
}

// Same reports whether n and want describe the same state. An existing
// directory is the same as a wanted one whatever its mode.
func Same(n, want Node) bool {
	if n.Kind != want.Kind {
		return false
	}
	switch n.Kind {
	case File:
		return n.SHA256 == want.SHA256 && n.Mode == want.Mode
	case Link:
		return n.Link == want.Link
	}
	return true
}

// ErrSource means a file's source does not hold the wanted content or mode.
var ErrSource = errors.New("source does not match")

// ErrConflict means a path cannot take its wanted state without deleting
// something Apply was not told about (a non-empty directory, say).
var ErrConflict = errors.New("path is in the way")

// Stat returns the current state of p in root, hashing a regular file. A
// path below something that is not a real directory (a symlink, a file) is
// Absent: it cannot be reached without following a link.
func Stat(root *os.Root, p string) (Node, error) {
	n := Node{Path: p, Kind: Absent}
	if ok, err := parentsAreDirs(root, p); err != nil || !ok {
		return n, err
	}
	fi, err := root.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return n, nil
	}
	if err != nil {
		return n, err
	}
	switch t := fi.Mode(); {
	case t.IsDir():
		n.Kind, n.Mode = Dir, t&modeBits
	case t&fs.ModeSymlink != 0:
		n.Kind = Link
		if n.Link, err = root.Readlink(p); err != nil {
			return n, err
		}
	case t.IsRegular():
		f, fi, err := openRegular(root, p)
		if err != nil {
			return n, err
		}
		defer f.Close()
		n.Kind, n.Mode = File, fi.Mode()&modeBits
		if n.SHA256, err = hashReader(f); err != nil {
			return n, fmt.Errorf("read %s: %w", p, err)
		}
	default:
		return n, fmt.Errorf("%s is a %s, not a file, symlink or directory", p, t.Type())
	}
	return n, nil
}

// parentsAreDirs reports whether every ancestor of p is a real directory.
func parentsAreDirs(root *os.Root, p string) (bool, error) {
	for dir := range Ancestors(p) {
		fi, err := root.Lstat(dir)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if !fi.IsDir() {
			return false, nil
		}
	}
	return true, nil
}

// Ancestors yields the directories above p, outermost first ("a", "a/b" for "a/b/c").
func Ancestors(p string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := range len(p) {
			if p[i] == '/' && !yield(p[:i]) {
				return
			}
		}
	}
}

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
	// Trusted skips hashing the sources: the caller hashed them just now
	// (backup.Capture, whose source is the live file it just read).
	Trusted bool
	// Progress, if set, is called after each node of the install pass.
	Progress func(done, total int)
}

// Apply brings every node's path in root to the node's state. Removals run
// deepest first, creations shallowest first, so a directory can turn into a
// file and back. A directory that should go but holds files Apply was not
// told about stays.
func Apply(ctx context.Context, root *os.Root, nodes []Node, opts Options) error {
	nodes = sortedByDepth(nodes)
	if err := sweep(root, nodes, opts); err != nil {
		return err
	}
	for i := len(nodes) - 1; i >= 0; i-- {
		if err := clear(root, nodes[i], opts.dst(nodes[i].Path)); err != nil {
			return err
		}
	}
	for i, n := range nodes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := put(root, n, opts); err != nil {
			return err
		}
		if opts.Progress != nil {
			opts.Progress(i+1, len(nodes))
		}
	}
	return Sync(root)
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

// sweep removes temp files left in the nodes' directories by a crash, so
// that directories to be removed are empty again.
func sweep(root *os.Root, nodes []Node, opts Options) error {
	seen := map[string]bool{}
	for _, n := range nodes {
		dst := opts.dst(n.Path)
		dir := path.Dir(dst)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		if ok, err := parentsAreDirs(root, dst); err != nil || !ok {
			continue
		}
		if err := Sweep(root, dir); err != nil {
			return err
		}
	}
	return nil
}

// Sweep removes the temp files (names starting with safefs.TempPrefix)
// that crashed writers left in the directory dir of root. Directories are
// left alone: a temp directory is someone else's work in progress (a
// clone, say), not a torn write. A missing dir is not an error.
func Sweep(root *os.Root, dir string) error {
	d, err := root.Open(dir)
	if err != nil {
		return nil // missing or not a directory: nothing to sweep
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	for _, ent := range entries {
		if strings.HasPrefix(ent.Name(), safefs.TempPrefix) && !ent.IsDir() {
			if err := root.Remove(path.Join(dir, ent.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove leftover %s: %w", ent.Name(), err)
			}
		}
	}
	return nil
}

// clear removes what is at n.Path when it is in the way of n: anything
// when n is Absent (an empty directory only), a directory when n is a file
// or symlink, a file or symlink when n is a directory.
func clear(root *os.Root, n Node, dst string) error {
	if ok, err := parentsAreDirs(root, dst); err != nil || !ok {
		return err
	}
	fi, err := root.Lstat(dst)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	isDir := fi.IsDir()
	switch {
	case n.Kind == Absent && isDir:
		if err := root.Remove(dst); err != nil && !notEmpty(err) && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove directory %s: %w", dst, err)
		}
	case n.Kind == Absent || (n.Kind == Dir && !isDir):
		if err := root.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", dst, err)
		}
	case n.Kind != Dir && isDir:
		if err := root.Remove(dst); err != nil {
			if notEmpty(err) {
				return fmt.Errorf("%w: %s is a directory that is not empty", ErrConflict, dst)
			}
			return fmt.Errorf("remove directory %s: %w", dst, err)
		}
	}
	return nil
}

func notEmpty(err error) bool {
	return errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)
}

// put creates n unless its path already is as wanted.
func put(root *os.Root, n Node, opts Options) error {
	if n.Kind == Absent {
		return nil
	}
	dst := opts.dst(n.Path)
	if err := mkdirParents(root, dst); err != nil {
		return err
	}
	cur, err := root.Lstat(dst)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	switch n.Kind {
	case Dir:
		if exists {
			return nil // clear removed anything else
		}
		if err := root.Mkdir(dst, n.Mode.Perm()); err != nil {
			return fmt.Errorf("create directory %s: %w", dst, err)
		}
		return root.Chmod(dst, n.Mode) // the umask must not change it
	case Link:
		if exists && cur.Mode()&fs.ModeSymlink != 0 {
			if target, err := root.Readlink(dst); err == nil && target == n.Link {
				return nil
			}
		}
		tmp := tempName(dst)
		if err := root.Symlink(n.Link, tmp); err != nil {
			return fmt.Errorf("create symlink %s: %w", dst, err)
		}
		return rename(root, tmp, dst)
	case File:
		return putFile(root, n, dst, cur, opts)
	}
	return fmt.Errorf("%s: unknown kind %q", n.Path, n.Kind)
}

func putFile(root *os.Root, n Node, dst string, cur fs.FileInfo, opts Options) error {
	src := path.Join(opts.From, n.Path)
	f, fi, err := openRegular(root, src)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrSource, src, err)
	}
	defer f.Close()
	if cur != nil && os.SameFile(cur, fi) {
		return nil // linked in place by an earlier run
	}
	if !opts.Trusted {
		sum, err := hashReader(f)
		if err != nil {
			return fmt.Errorf("read %s: %w", src, err)
		}
		if sum != n.SHA256 {
			return fmt.Errorf("%w: %s has sha256 %s, want %s", ErrSource, src, sum[:12], n.SHA256[:min(12, len(n.SHA256))])
		}
	}
	if !opts.Copy && fi.Mode()&modeBits == n.Mode {
		tmp := tempName(dst)
		err := root.Link(src, tmp)
		if err == nil {
			return rename(root, tmp, dst)
		}
		if !linkUnsupported(err) {
			return fmt.Errorf("link %s: %w", dst, err)
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return safefs.Write(root, dst, f, n.Mode)
}

// linkUnsupported reports errors after which copying still works: another
// filesystem, a filesystem without hard links, a full link count.
func linkUnsupported(err error) bool {
	return errors.Is(err, syscall.EXDEV) || errors.Is(err, syscall.EPERM) ||
		errors.Is(err, syscall.EMLINK) || errors.Is(err, syscall.EOPNOTSUPP)
}

func rename(root *os.Root, tmp, name string) error {
	if err := root.Rename(tmp, name); err != nil {
		root.Remove(tmp)
		return fmt.Errorf("rename into %s: %w", name, err)
	}
	return nil
}

// mkdirParents creates p's missing ancestors (mode 0755) and refuses an
// ancestor that is not a real directory: writing below it would follow it.
func mkdirParents(root *os.Root, p string) error {
	for dir := range Ancestors(p) {
		fi, err := root.Lstat(dir)
		if errors.Is(err, fs.ErrNotExist) {
			if err := root.Mkdir(dir, 0o755); err != nil {
				return fmt.Errorf("create directory %s: %w", dir, err)
			}
			continue
		}
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%w: %s is not a directory, so %s cannot be written", ErrConflict, dir, p)
		}
	}
	return nil
}

// openRegular opens a regular file without following a final symlink.
func openRegular(root *os.Root, name string) (*os.File, fs.FileInfo, error) {
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s is not a regular file", name)
	}
	return f, fi, nil
}

func hashReader(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := iobuf.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// tempName returns a fresh name next to name that sweep recognises, short
// enough for any file name.
func tempName(name string) string {
	var b [8]byte
	rand.Read(b[:])
	base := path.Base(name)
	return path.Join(path.Dir(name), safefs.TempPrefix+base[:min(len(base), 100)]+"-"+hex.EncodeToString(b[:]))
}

// Sync makes every change in root's filesystem durable (syncfs(2)): one
// call after many renames instead of an fsync per directory.
func Sync(root *os.Root) error {
	d, err := root.Open(".")
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("syncfs: %w", err)
	}
	return nil
}
