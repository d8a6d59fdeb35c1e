package manifest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/infofile"
	"github.com/hoist-dev/hoist/internal/iobuf"
)

// InfoVersion returns the "version" of dir's info.json.
func InfoVersion(dir *os.Root) (string, error) {
	data, err := infofile.ReadFile(dir, approot.InfoFile)
	if err != nil {
		return "", err
	}
	var info struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return "", fmt.Errorf("parse %s: %w", approot.InfoFile, err)
	}
	return info.Version, nil
}

// Build makes the manifest of the work tree dir: every regular file and
// symlink except .git and the manifest and signature themselves, with the
// version of dir/info.json. Empty directories are not part of a release (git
// does not keep them); a fifo, socket or device is an error.
func Build(ctx context.Context, dir string) (*Manifest, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	version, err := InfoVersion(root)
	if err != nil {
		return nil, fmt.Errorf("release version: %w", err)
	}
	m := &Manifest{Version: version}
	var files []int // indexes of regular files in m.Files, hashed below
	err = walkTree(root, func(p string, d fs.DirEntry) error {
		if err := validName(d.Name()); err != nil {
			return fmt.Errorf("%s: %v", p, err)
		}
		switch t := d.Type(); {
		case t.IsDir():
			return nil
		case t&fs.ModeSymlink != 0:
			target, err := root.Readlink(p)
			if err != nil {
				return err
			}
			m.Files = append(m.Files, Entry{Path: p, Link: target})
		case t.IsRegular():
			files = append(files, len(m.Files))
			m.Files = append(m.Files, Entry{Path: p})
		default:
			return fmt.Errorf("%s: %s is not a regular file, directory or symlink", p, t)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("build manifest of %s: %w", dir, err)
	}
	err = parallel(ctx, len(files), func(i int) error {
		e := &m.Files[files[i]]
		sum, fi, err := hashFile(root, e.Path)
		if err != nil {
			return err
		}
		e.SHA256, e.Mode = sum, modeOf(fi.Mode().Perm())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("build manifest of %s: %w", dir, err)
	}
	// WalkDir visits in lexical order of names, which is not byte order of
	// whole paths ("a/b" before "a-b"), so sort.
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	if err := m.validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// walkTree calls fn for every entry of the release tree in dir, in lexical
// order, without following symlinks. It leaves out what is never part of a
// release: .git (a directory, or a file in a linked work tree) and the
// manifest and signature.
func walkTree(dir *os.Root, fn func(p string, d fs.DirEntry) error) error {
	return fs.WalkDir(dir.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case p == ".":
			return nil
		case p == ".git" && d.IsDir():
			return fs.SkipDir
		case p == ".git" || p == approot.ManifestFile || p == approot.SignatureFile:
			return nil
		}
		return fn(p, d)
	})
}

// Problem is one way a live file differs from its manifest entry.
type Problem struct {
	Path   string
	Reason string // e.g. "missing", "content changed", "mode 0600, want 0644", "not a symlink"
}

func (p Problem) String() string { return p.Path + ": " + p.Reason }

// MismatchError lists how a tree differs from its manifest.
type MismatchError struct {
	Problems []Problem
}

// maxListed caps the problems an error message spells out.
const maxListed = 10

func (e *MismatchError) Error() string {
	var b strings.Builder
	b.WriteString(ErrMismatch.Error())
	for i, p := range e.Problems {
		if i == maxListed {
			fmt.Fprintf(&b, "; and %d more", len(e.Problems)-maxListed)
			break
		}
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		b.WriteString(sep + p.String())
	}
	return b.String()
}

func (e *MismatchError) Unwrap() error { return ErrMismatch }

// Diff compares the files m lists with what dir holds, for `hoist verify`.
// Files that m does not list are ignored (the live root holds user data). The
// problems are sorted by path.
func Diff(ctx context.Context, dir *os.Root, m *Manifest) ([]Problem, error) {
	found := make([]Problem, len(m.Files))
	badParent := parentSymlinks(dir, m)
	err := parallel(ctx, len(m.Files), func(i int) error {
		e := m.Files[i]
		if link, ok := badParent[path.Dir(e.Path)]; ok {
			found[i] = Problem{e.Path, fmt.Sprintf("parent %s is a symlink", link)}
			return nil
		}
		reason, err := compare(dir, e)
		found[i] = Problem{e.Path, reason}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("compare with manifest: %w", err)
	}
	var problems []Problem
	for _, p := range found {
		if p.Reason != "" {
			problems = append(problems, p)
		}
	}
	return problems, nil
}

// parentSymlinks maps each directory that holds a listed entry to the symlink
// among its ancestors, if any. Entries below a symlinked directory would be
// compared through the link, so they are reported instead.
func parentSymlinks(dir *os.Root, m *Manifest) map[string]string {
	bad := map[string]string{}
	checked := map[string]bool{".": true}
	var check func(d string)
	check = func(d string) {
		if checked[d] {
			return
		}
		checked[d] = true
		parent := path.Dir(d)
		check(parent)
		if link, ok := bad[parent]; ok {
			bad[d] = link
		} else if fi, err := dir.Lstat(d); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			bad[d] = d
		}
	}
	for _, e := range m.Files {
		check(path.Dir(e.Path))
	}
	return bad
}

// compare returns why dir's copy of e differs from e, or "" if it does not.
// Only errors that stop the comparison as a whole are returned.
func compare(dir *os.Root, e Entry) (string, error) {
	fi, err := dir.Lstat(e.Path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return "missing", nil
	}
	if err != nil {
		return "", err
	}
	if e.IsLink() {
		if fi.Mode()&fs.ModeSymlink == 0 {
			return "not a symlink", nil
		}
		target, err := dir.Readlink(e.Path)
		if err != nil {
			return "", err
		}
		if target != e.Link {
			return fmt.Sprintf("symlink to %q, want %q", clip(target), clip(e.Link)), nil
		}
		return "", nil
	}
	if !fi.Mode().IsRegular() {
		return fmt.Sprintf("not a regular file (%s)", typeName(fi.Mode())), nil
	}
	sum, fi, err := hashFile(dir, e.Path)
	if err != nil {
		return "", err
	}
	var reasons []string
	if sum != e.SHA256 {
		reasons = append(reasons, "content changed")
	}
	if got := unixMode(fi.Mode()); got != uint32(e.Perm()) {
		reasons = append(reasons, fmt.Sprintf("mode %04o, want %s", got, e.Mode))
	}
	return strings.Join(reasons, ", "), nil
}

func typeName(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	}
	return "special file"
}

// unixMode returns the permission bits of m as chmod(2) spells them,
// including setuid, setgid and sticky, which a release never has.
func unixMode(m fs.FileMode) uint32 {
	bits := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		bits |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		bits |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		bits |= 0o1000
	}
	return bits
}

// VerifyTree checks that dir holds exactly m: every listed file present with
// the same content and mode, every listed symlink with the same target, and
// no other file or symlink except .git and the manifest and signature. A
// difference is a *MismatchError wrapping ErrMismatch.
func VerifyTree(ctx context.Context, dir *os.Root, m *Manifest) error {
	problems, err := Diff(ctx, dir, m)
	if err != nil {
		return err
	}
	err = walkTree(dir, func(p string, d fs.DirEntry) error {
		if _, listed := m.Lookup(p); listed || d.IsDir() {
			return nil // a listed path of the wrong type is in problems already
		}
		problems = append(problems, Problem{p, "not in the manifest"})
		return nil
	})
	if err != nil {
		return fmt.Errorf("list tree: %w", err)
	}
	if len(problems) > 0 {
		sort.Slice(problems, func(i, j int) bool { return problems[i].Path < problems[j].Path })
		return &MismatchError{problems}
	}
	return nil
}

// hashFile returns the sha256 of the regular file dir/name and its info. It
// refuses a file that is not regular when opened (swapped since an Lstat)
// and never blocks on a fifo.
func hashFile(dir *os.Root, name string) (string, fs.FileInfo, error) {
	f, err := dir.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", nil, err
	}
	if !fi.Mode().IsRegular() {
		return "", nil, fmt.Errorf("%s: not a regular file", name)
	}
	h := sha256.New()
	if _, err := iobuf.Copy(h, f); err != nil {
		return "", nil, fmt.Errorf("read %s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), fi, nil
}

// parallel calls fn(i) for each i in [0, n) on one worker per CPU. After the
// first error, or once ctx is done, no further call starts and that error is
// returned.
func parallel(ctx context.Context, n int, fn func(i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.NumCPU(), n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}
