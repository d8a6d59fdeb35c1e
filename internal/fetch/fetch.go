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
// tag only, into the persistent object store Options.Store (see store.go),
// or else into a temporary one, as one pack file and its index (see
// packwriter.go): the thin pack of an incremental fetch is completed with
// the objects of the store that its deltas need. A local repository
// (file:// URL or path) is read in place: go-git's file transport would run
// git-upload-pack.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"golang.org/x/sys/unix"

	"github.com/hoist-dev/hoist/internal/redact"
	"github.com/hoist-dev/hoist/internal/repoauth"
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
	// MaxBytes bounds the sum of the sizes of the release's files (0 means
	// DefaultMaxBytes): a fetched pack whose objects would inflate to more
	// is refused at the header of the object that crosses it, before
	// anything inflates that object, and a checkout whose files add up to
	// more stops before reading the file that crosses it.
	MaxBytes int64
	// Store, if set, is the directory of an object store kept between
	// clones of one repository, created when missing: a remote clone then
	// downloads only the objects that the tags already in it lack. Callers
	// serialise every use of a store, and call PruneStore once they know
	// which tag they keep.
	Store string
	// Cache, if set, supplies files by content: a file that the release's
	// manifest (its hoist-release.json, read from the tag's tree first)
	// lists with a sha256 the cache has is linked from the cache instead
	// of being read out of git objects. The manifest is not verified here;
	// like every file, what the cache gives is checked by the caller's
	// verification of the whole tree.
	Cache Cache
	// Token, if set, is sent as HTTP auth to an http(s) URL (package
	// repoauth); it never appears in a message.
	Token string
}

// Cache is the object cache as a checkout uses it (package objcache).
type Cache interface {
	Has(sha256hex string) bool
	Link(ctx context.Context, sha256hex string, dir *os.File, name string, mode fs.FileMode) error
}

// DefaultStallTimeout is how long an HTTP(S) transfer may receive nothing.
const DefaultStallTimeout = 2 * time.Minute

// DefaultMaxBytes is the default of Options.MaxBytes.
const DefaultMaxBytes = 1 << 30

var (
	// ErrTagNotFound means the repository has no such tag.
	ErrTagNotFound = errors.New("release tag not found in repository")
	// ErrStalled means the server sent nothing for the stall timeout.
	ErrStalled = errors.New("transfer stalled")
	// ErrExists means Dir exists already.
	ErrExists = errors.New("target directory exists")
	// ErrTooLarge means the release is larger than Options.MaxBytes.
	ErrTooLarge = errors.New("release too large")
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
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
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
	err := cloneOnce(ctx, o, parent, prefix)
	var damaged storeDamaged
	if errors.As(err, &damaged) && o.Store != "" && hasHistory(o.Store) {
		// Objects the store should hold are unreadable: start it afresh
		// and download the tag whole.
		if rmErr := os.RemoveAll(o.Store); rmErr != nil {
			return errors.Join(err, rmErr)
		}
		err = cloneOnce(ctx, o, parent, prefix)
	}
	return err
}

func cloneOnce(ctx context.Context, o Options, parent, prefix string) error {
	tmp, err := os.MkdirTemp(parent, prefix)
	if err != nil {
		return fmt.Errorf("clone %s: %w", o.Tag, err)
	}
	if err := cloneInto(ctx, o, tmp); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("clone %s from %s: %w", o.Tag, redact.URL(o.URL), err)
	}
	return nil
}

func cloneInto(ctx context.Context, o Options, tmp string) error {
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp makes it 0700
		return err
	}
	src, err := openSource(ctx, o, tmp)
	if err != nil {
		return err
	}
	err = src.checkout(ctx, tmp, o.Cache)
	if closeErr := src.close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return err
	}
	parent, err := os.OpenRoot(filepath.Dir(o.Dir))
	if err != nil {
		return err
	}
	defer parent.Close()
	// One syncfs flushes every file of the tree (tmp is in parent's
	// filesystem); fsyncing each of thousands of files costs far more, and
	// the rename below must not reach the disk before them.
	if err := safefs.SyncFS(parent); err != nil {
		return err
	}
	if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, o.Dir, unix.RENAME_NOREPLACE); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return ErrExists
		}
		return fmt.Errorf("rename into %s: %w", o.Dir, err)
	}
	return safefs.SyncDir(parent, ".")
}

// source is what a checkout reads: the objects, and where the tag points.
type source struct {
	objects storer.EncodedObjectStorer
	ref     plumbing.Hash
	// reader opens another reader of the same objects, for one checkout
	// worker: go-git's storers are not safe for concurrent use.
	reader func() (storer.EncodedObjectStorer, func() error, error)
	close  func() error
	// maxBytes bounds the sum of the sizes of the files checked out.
	maxBytes int64
}

// openSource opens a local repository in place, or fetches the remote's
// tag into the store (o.Store, else a temporary one inside tmp, which
// close removes).
func openSource(ctx context.Context, o Options, tmp string) (*source, error) {
	if local, ok := localPath(o.URL); ok {
		open, ref, err := openLocal(local, o.Tag)
		if err != nil {
			return nil, err
		}
		reader := func() (storer.EncodedObjectStorer, func() error, error) {
			return open(), func() error { return nil }, nil
		}
		return &source{objects: open(), ref: ref, reader: reader, close: func() error { return nil }, maxBytes: o.MaxBytes}, nil
	}
	dir := o.Store
	if dir == "" {
		dir = filepath.Join(tmp, storeDir)
	}
	incremental := hasHistory(dir)
	store, err := openStore(dir)
	if err != nil {
		return nil, err
	}
	src := &source{objects: store, maxBytes: o.MaxBytes, reader: func() (storer.EncodedObjectStorer, func() error, error) {
		r := openStoreReader(dir)
		return r, r.Close, nil
	}}
	src.close = func() error {
		err := store.Close()
		if o.Store == "" {
			err = errors.Join(err, os.RemoveAll(dir))
		}
		return err
	}
	if src.ref, err = fetchRemote(ctx, o, store, incremental); err != nil {
		return nil, errors.Join(err, src.close())
	}
	return src, nil
}

// fetchRemote fetches the tag, depth 1, into s and returns where it points.
// incremental says s holds earlier tags, whose objects the server then
// leaves out.
func fetchRemote(ctx context.Context, o Options, s *filesystem.Storage, incremental bool) (plumbing.Hash, error) {
	InstallHTTP()
	refName := plumbing.NewTagReferenceName(o.Tag)
	stall := o.StallTimeout
	if stall <= 0 {
		stall = DefaultStallTimeout
	}
	fetchCtx := withStallTimeout(ctx, stall)
	if incremental {
		// Only a thin pack leaves out what s has (see thinpack.go).
		fetchCtx = withThinPack(fetchCtx)
	}
	remote := git.NewRemote(newGuardedStorage(packStorage{s, fetchCtx}, o.MaxBytes), &config.RemoteConfig{Name: "origin", URLs: []string{o.URL}})
	err := remote.FetchContext(fetchCtx, &git.FetchOptions{
		RefSpecs: []config.RefSpec{config.RefSpec("+" + refName + ":" + refName)},
		Depth:    1,
		Tags:     git.NoTags,
		Progress: o.Progress,
		Auth:     repoauth.Git(o.URL, o.Token),
	})
	switch {
	case errors.Is(err, git.NoErrAlreadyUpToDate):
		// The store has the tag as the server has it: fetched before, as
		// when a node updates again to a release it rolled back from.
	case errors.Is(err, git.NoMatchingRefSpecError{}):
		return plumbing.ZeroHash, ErrTagNotFound
	case err != nil && ctx.Err() != nil:
		return plumbing.ZeroHash, ctx.Err()
	case err != nil:
		return plumbing.ZeroHash, err
	}
	ref, err := s.Reference(refName)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("fetched tag: %w", err)
	}
	return ref.Hash(), notePeeled(s, ref)
}

// maxPeel bounds chains of tags pointing at tags.
const maxPeel = 10

// peel follows annotated tags from h to the commit and returns its tree and
// hash, calling visit (if not nil) with every tag and the commit on the way.
func peel(s storer.EncodedObjectStorer, h plumbing.Hash, visit func(plumbing.Hash) error) (*object.Tree, plumbing.Hash, error) {
	for range maxPeel {
		obj, err := object.GetObject(s, h)
		if err != nil {
			return nil, h, storeDamaged{fmt.Errorf("tag target %s: %w", h, err)}
		}
		if visit != nil {
			if err := visit(h); err != nil {
				return nil, h, err
			}
		}
		switch o := obj.(type) {
		case *object.Tag:
			h = o.Target
		case *object.Commit:
			tree, err := o.Tree()
			if err != nil {
				return nil, h, storeDamaged{fmt.Errorf("tree of %s: %w", h, err)}
			}
			return tree, h, nil
		default:
			return nil, h, fmt.Errorf("tag points at a %s, not a commit", obj.Type())
		}
	}
	return nil, h, errors.New("tag chain too long")
}

// globEscape quotes the glob metacharacters of s.
func globEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)
	return r.Replace(s)
}
