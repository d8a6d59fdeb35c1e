// Package fetch checks out one release tag of a git repository into a new
// directory, with go-git only (no git binary is ever run).
//
// Invariants:
//   - Dir either does not exist or holds the complete tree of the tag: the
//     tree is written into a temp sibling (named safefs.TempPrefix + base of
//     Dir + "-…"), flushed with syncfs, and renamed into place without
//     replacing anything;
//   - the tree is written through an *os.Root, never outside it, with exactly
//     the modes git records (0644, 0755, symlinks), whatever the umask;
//   - the result holds only the tree: no .git, since a release's .git is not
//     part of it (CONTRACT §4) and would only cost disk;
//   - nothing blocks forever: ctx is honoured, and an HTTP(S) transfer that
//     receives no byte for Options.StallTimeout is aborted.
//
// Remote URLs (http, https, ssh, git) are fetched shallow (depth 1), for the
// tag only, into a temporary object store. A local repository (file:// URL or
// path) is read in place: go-git's file transport would run git-upload-pack.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"golang.org/x/sys/unix"

	"github.com/hoist-dev/hoist/internal/safefs"
	"github.com/hoist-dev/hoist/internal/tag"
)

// Options says what to clone where.
type Options struct {
	URL      string    // any URL go-git clones: file://, http(s)://, ssh://, or a local path
	Tag      string    // vX.Y.Z
	Dir      string    // target directory; must not exist
	Progress io.Writer // optional: the server's progress messages
	// StallTimeout aborts an HTTP(S) transfer after this long without a
	// byte received (0 means DefaultStallTimeout).
	StallTimeout time.Duration
}

// DefaultStallTimeout is how long an HTTP(S) transfer may receive nothing.
const DefaultStallTimeout = 2 * time.Minute

var (
	// ErrTagNotFound means the repository has no such tag.
	ErrTagNotFound = errors.New("release tag not found in repository")
	// ErrStalled means the server sent nothing for the stall timeout.
	ErrStalled = errors.New("transfer stalled")
	// ErrExists means Dir exists already.
	ErrExists = errors.New("target directory exists")
)

// storeDir is where a remote fetch keeps objects inside the temp dir, until
// the tree is checked out. Tree entries named .git are refused, so it cannot
// collide with the release.
const storeDir = ".git"

// Clone makes a shallow clone of o.Tag into o.Dir (see the package comment).
// Callers serialise Clones of the same Dir (the engine holds its lock): a
// Clone removes temp dirs that earlier, interrupted Clones of Dir left.
func Clone(ctx context.Context, o Options) error {
	if _, err := tag.Parse(o.Tag); err != nil {
		return err
	}
	if _, err := os.Lstat(o.Dir); err == nil {
		return fmt.Errorf("clone into %s: %w", o.Dir, ErrExists)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	parent, base := filepath.Dir(o.Dir), filepath.Base(o.Dir)
	prefix := safefs.TempPrefix + base + "-"
	stale, _ := filepath.Glob(filepath.Join(parent, globEscape(prefix)+"*")) // the pattern is valid
	for _, s := range stale {
		os.RemoveAll(s)
	}
	tmp, err := os.MkdirTemp(parent, prefix)
	if err != nil {
		return fmt.Errorf("clone %s: %w", o.Tag, err)
	}
	if err := cloneInto(ctx, o, tmp); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("clone %s from %s: %w", o.Tag, redact(o.URL), err)
	}
	return nil
}

func cloneInto(ctx context.Context, o Options, tmp string) error {
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp makes it 0700
		return err
	}
	var s storer.EncodedObjectStorer
	var ref plumbing.Hash
	var err error
	if local, ok := localPath(o.URL); ok {
		s, ref, err = openLocal(local, o.Tag)
	} else {
		s, ref, err = fetchRemote(ctx, o, filepath.Join(tmp, storeDir))
	}
	if err != nil {
		return err
	}
	tree, err := peelToTree(s, ref)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(tmp)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := checkout(ctx, s, tree, root, "."); err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(tmp, storeDir)); err != nil {
		return err
	}
	// One syncfs flushes every file of the tree; fsyncing each of thousands
	// of files costs far more, and the rename below must not reach the disk
	// before them.
	if err := syncFS(tmp); err != nil {
		return err
	}
	if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, o.Dir, unix.RENAME_NOREPLACE); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return ErrExists
		}
		return fmt.Errorf("rename into %s: %w", o.Dir, err)
	}
	return syncDir(filepath.Dir(o.Dir))
}

// localPath returns the directory of a file:// URL or a plain path.
func localPath(rawURL string) (string, bool) {
	if strings.HasPrefix(rawURL, "/") {
		return rawURL, true
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "file" {
		return "", false
	}
	return u.Path, true
}

// openLocal opens the repository at dir for reading and returns where tag
// points.
func openLocal(dir, tagName string) (storer.EncodedObjectStorer, plumbing.Hash, error) {
	repo, err := git.PlainOpen(dir)
	if err != nil {
		return nil, plumbing.ZeroHash, fmt.Errorf("open repository: %w", err)
	}
	ref, err := repo.Storer.Reference(plumbing.NewTagReferenceName(tagName))
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return nil, plumbing.ZeroHash, ErrTagNotFound
	}
	if err != nil {
		return nil, plumbing.ZeroHash, err
	}
	return repo.Storer, ref.Hash(), nil
}

// fetchRemote fetches the tag, depth 1, into a new object store at dir.
func fetchRemote(ctx context.Context, o Options, dir string) (storer.EncodedObjectStorer, plumbing.Hash, error) {
	installHTTP()
	s := filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRUDefault())
	refName := plumbing.NewTagReferenceName(o.Tag)
	remote := git.NewRemote(s, &config.RemoteConfig{Name: "origin", URLs: []string{o.URL}})
	stall := o.StallTimeout
	if stall <= 0 {
		stall = DefaultStallTimeout
	}
	err := remote.FetchContext(withStallTimeout(ctx, stall), &git.FetchOptions{
		RefSpecs: []config.RefSpec{config.RefSpec("+" + refName + ":" + refName)},
		Depth:    1,
		Tags:     git.NoTags,
		Progress: o.Progress,
	})
	switch {
	case errors.Is(err, git.NoMatchingRefSpecError{}):
		return nil, plumbing.ZeroHash, ErrTagNotFound
	case err != nil && ctx.Err() != nil:
		return nil, plumbing.ZeroHash, ctx.Err()
	case err != nil:
		return nil, plumbing.ZeroHash, err
	}
	ref, err := s.Reference(refName)
	if err != nil {
		return nil, plumbing.ZeroHash, fmt.Errorf("fetched tag: %w", err)
	}
	return s, ref.Hash(), nil
}

// maxPeel bounds chains of tags pointing at tags.
const maxPeel = 10

// peelToTree follows annotated tags to the commit and returns its tree.
func peelToTree(s storer.EncodedObjectStorer, h plumbing.Hash) (*object.Tree, error) {
	for range maxPeel {
		obj, err := object.GetObject(s, h)
		if err != nil {
			return nil, fmt.Errorf("tag target %s: %w", h, err)
		}
		switch o := obj.(type) {
		case *object.Tag:
			h = o.Target
		case *object.Commit:
			return o.Tree()
		default:
			return nil, fmt.Errorf("tag points at a %s, not a commit", obj.Type())
		}
	}
	return nil, errors.New("tag chain too long")
}

// maxLink caps a symlink target read from the repository.
const maxLink = 4096

// checkout writes tree into root at dir. Names are checked before use, and
// each file is created exclusively, so a crafted tree (duplicate names, ..,
// .git) fails instead of overwriting anything; os.Root keeps every write
// inside the tree even through symlinks the tree itself made.
func checkout(ctx context.Context, s storer.EncodedObjectStorer, tree *object.Tree, root *os.Root, dir string) error {
	for _, e := range tree.Entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.Name == "" || e.Name == "." || e.Name == ".." || strings.ContainsRune(e.Name, '/') || strings.EqualFold(e.Name, ".git") {
			return fmt.Errorf("tree entry %q in %s: unsafe name", e.Name, dir)
		}
		p := path.Join(dir, e.Name)
		var err error
		switch e.Mode {
		case filemode.Dir:
			err = checkoutDir(ctx, s, e.Hash, root, p)
		case filemode.Regular, filemode.Deprecated:
			err = checkoutFile(s, e.Hash, root, p, 0o644)
		case filemode.Executable:
			err = checkoutFile(s, e.Hash, root, p, 0o755)
		case filemode.Symlink:
			err = checkoutLink(s, e.Hash, root, p)
		default:
			err = fmt.Errorf("%s: git mode %s (submodule?) is not supported in a release", p, e.Mode)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func checkoutDir(ctx context.Context, s storer.EncodedObjectStorer, h plumbing.Hash, root *os.Root, p string) error {
	sub, err := object.GetTree(s, h)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if err := root.Mkdir(p, 0o755); err != nil {
		return err
	}
	if err := root.Chmod(p, 0o755); err != nil {
		return err
	}
	return checkout(ctx, s, sub, root, p)
}

func checkoutFile(s storer.EncodedObjectStorer, h plumbing.Hash, root *os.Root, p string, perm os.FileMode) error {
	blob, err := object.GetBlob(s, h)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	r, err := blob.Reader()
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	defer r.Close()
	f, err := root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func checkoutLink(s storer.EncodedObjectStorer, h plumbing.Hash, root *os.Root, p string) error {
	blob, err := object.GetBlob(s, h)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if blob.Size > maxLink {
		return fmt.Errorf("%s: symlink target longer than %d bytes", p, maxLink)
	}
	r, err := blob.Reader()
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	defer r.Close()
	target, err := io.ReadAll(io.LimitReader(r, maxLink))
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return root.Symlink(string(target), p)
}

func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// globEscape quotes the glob metacharacters of s.
func globEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)
	return r.Replace(s)
}

// redact drops a password from a URL before it reaches a message.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return rawURL
	}
	return u.Redacted()
}
