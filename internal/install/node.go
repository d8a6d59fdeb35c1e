package install

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"

	"golang.org/x/sys/unix"

	"github.com/hoist-dev/hoist/internal/iobuf"
)

// Node is the state of one path, relative to the tree's root.
type Node struct {
	Path   string      `json:"path"`
	Kind   Kind        `json:"kind"`
	SHA256 string      `json:"sha256,omitempty"` // File
	Mode   fs.FileMode `json:"mode,omitempty"`   // File and Dir
	Link   string      `json:"link,omitempty"`   // Link
}

// Kind is what a path is.
type Kind string

// The kinds of Node.
const (
	Absent Kind = "absent"
	File   Kind = "file"
	Link   Kind = "link"
	Dir    Kind = "dir"
)

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

// Stat returns the current state of p in root, hashing a regular file. A
// path below something that is not a real directory (a symlink, a file) is
// Absent: it cannot be reached without following a link. For many paths,
// Tree.Stat opens each directory once instead of once per path.
func Stat(root *os.Root, p string) (Node, error) {
	t := NewTree(root)
	defer t.Close()
	return t.Stat(p)
}

// Lstat returns lstat(2) of p through t's open directories, without
// reading it; a path below anything but a real directory does not exist.
func (t *Tree) Lstat(p string) (unix.Stat_t, error) {
	t.trim()
	e, err := t.at(p, false)
	if errors.Is(err, errNoDir) {
		return unix.Stat_t{}, &fs.PathError{Op: "lstat", Path: p, Err: fs.ErrNotExist}
	}
	if err != nil {
		return unix.Stat_t{}, err
	}
	return e.lstat()
}

// Stat returns the current state of p like the package's Stat, through t's
// open directories.
func (t *Tree) Stat(p string) (Node, error) {
	t.trim()
	n := Node{Path: p, Kind: Absent}
	e, err := t.at(p, false)
	if errors.Is(err, errNoDir) {
		return n, nil
	}
	if err != nil {
		return n, err
	}
	st, err := e.lstat()
	if errors.Is(err, fs.ErrNotExist) {
		return n, nil
	}
	if err != nil {
		return n, err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		n.Kind, n.Mode = Dir, nodeMode(&st)
	case unix.S_IFLNK:
		n.Kind = Link
		if n.Link, err = e.readlink(); err != nil {
			return n, err
		}
	case unix.S_IFREG:
		f, st, err := e.openRegular()
		if err != nil {
			return n, err
		}
		defer f.Close()
		n.Kind, n.Mode = File, nodeMode(&st)
		if n.SHA256, err = hashReader(f); err != nil {
			return n, fmt.Errorf("read %s: %w", p, err)
		}
	default:
		return n, fmt.Errorf("%s is a %s, not a file, symlink or directory", p, otherTypes[st.Mode&unix.S_IFMT])
	}
	return n, nil
}

// otherTypes names the file types a Node cannot be.
var otherTypes = map[uint32]string{
	unix.S_IFIFO: "fifo", unix.S_IFSOCK: "socket", unix.S_IFCHR: "character device", unix.S_IFBLK: "block device",
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

// hashReader returns the hex sha256 of r's content.
func hashReader(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := iobuf.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
