// Package objcache is the node's content-addressed file cache
// (.hoist/cache/ of an app root): immutable files named by the sha256 of
// their content, holding the live release's files and the objects
// downloaded last. Staging a release takes every file whose hash is here
// from here, so an update downloads or checks out only what changed.
//
// Layout, all root-owned: the cache directory (0700) holds one file per
// object, named by its lowercase sha256 hex, and partial/, the downloads in
// progress, each named by the hash it will have once complete (kept across
// kill -9, so a download can resume) or by a temp name while an object is
// being copied in. An object has the mode of the release file it came from
// (0644 for a download), so that it can be linked into a staging tree as
// is; write bits mean nothing here, where only root can reach.
//
// Trust: an object is put here only after its content was checked (Adopt:
// the downloader hashed it while streaming; Add hashes its copy), and only
// root writes here, so Has trusts the name and does not hash. An object
// gets its name only once complete, so kill -9 cannot tear one (Replace
// reuses the inode of an object it drops for a copy, but only after that
// object left its name and only if no other name links it); neither a
// download (Adopt) nor a copy (Add says why) is flushed, nor any placed or
// linked file (the caller flushes its whole tree at once). Every tree
// staged from the cache is verified against its signed manifest anyway
// (the engine does): a tree that fails is a reason to drop the cache, not
// to trust it.
//
// No live file may share an inode with an object: the app may write its
// files in place, which would change the object under its name. Place and
// Add clone the extents (FICLONE, on filesystems that can) or copy in the
// kernel (copy_file_range). Link does link an object into a staging tree,
// for an installer that copies every staged file with other links instead
// of linking it into the live root; a staged file that is already live
// then costs nothing.
package objcache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"strconv"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/hoist-dev/hoist/internal/safefs"
)

// partialDir holds downloads in progress, inside the cache directory.
const partialDir = "partial"

// downloadMode is the mode of an adopted download: a plain file (a file
// staged with another mode is then copied, not linked).
const downloadMode = 0o644

var (
	// ErrBadHash means a name is not a lowercase sha256 hex string.
	ErrBadHash = errors.New("not a sha256 hex digest")
	// ErrMismatch means a file to add does not have the sha256 given.
	ErrMismatch = errors.New("content does not match its sha256")
)

// Cache is an open object cache. Its methods are safe for concurrent use.
type Cache struct {
	dir     string   // relative to the app root
	d       *os.Root // the cache directory
	noClone atomic.Bool
	// noTmpfile: the cache's filesystem has no O_TMPFILE or will not
	// link one (see adder.create).
	noTmpfile atomic.Bool
	pid       string        // this process's, in temp names
	seq       atomic.Uint64 // numbers temp names
}

// Open opens the cache at dir of root (a path relative to it), creating it
// when missing, and removes the temp files an interrupted copy left.
// Partial downloads are kept. The caller closes the cache.
func Open(root *os.Root, dir string) (*Cache, error) {
	dir = path.Clean(dir)
	if err := root.MkdirAll(path.Join(dir, partialDir), 0o700); err != nil {
		return nil, fmt.Errorf("object cache: %w", err)
	}
	d, err := root.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("object cache: %w", err)
	}
	for _, p := range []string{".", partialDir} {
		if err := d.Chmod(p, 0o700); err != nil {
			d.Close()
			return nil, fmt.Errorf("object cache: %w", err)
		}
	}
	if err := safefs.Sweep(d, partialDir); err != nil {
		d.Close()
		return nil, fmt.Errorf("object cache: %w", err)
	}
	return &Cache{dir: dir, d: d, pid: strconv.Itoa(os.Getpid())}, nil
}

// Close closes the cache directory.
func (c *Cache) Close() error { return c.d.Close() }

// Has reports whether the object is in the cache.
func (c *Cache) Has(sha256hex string) bool {
	if !validHash(sha256hex) {
		return false
	}
	fi, err := c.d.Lstat(sha256hex)
	return err == nil && fi.Mode().IsRegular()
}

// Keep removes every object not in keep, and every partial download and
// temp file: it runs after a successful install, when no download is in
// progress.
func (c *Cache) Keep(ctx context.Context, keep map[string]bool) error {
	if err := c.sweep(ctx, ".", func(name string) bool { return keep[name] || name == partialDir }); err != nil {
		return err
	}
	return c.sweep(ctx, partialDir, func(string) bool { return false })
}

// sweep removes the entries of the cache directory dir for which keep is
// false, one per CPU at a time: most of an unlink's cost is freeing the
// inode's pages and blocks, which, unlike the name, is not serialized by
// the directory.
func (c *Cache) sweep(ctx context.Context, dir string, keep func(name string) bool) error {
	f, err := c.d.Open(dir)
	if err != nil {
		return fmt.Errorf("object cache: %w", err)
	}
	defer f.Close()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.NumCPU())
	for {
		entries, err := f.ReadDir(256)
		for _, ent := range entries {
			if gctx.Err() != nil {
				return errors.Join(g.Wait(), ctx.Err())
			}
			if keep(ent.Name()) {
				continue
			}
			name := path.Join(dir, ent.Name())
			g.Go(func() error {
				if err := c.d.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("object cache: %w", err)
				}
				return nil
			})
		}
		if errors.Is(err, io.EOF) {
			return g.Wait()
		}
		if err != nil {
			return errors.Join(fmt.Errorf("object cache: list %s: %w", dir, err), g.Wait())
		}
	}
}

// validHash reports whether s is a lowercase sha256 hex digest, so that it
// can only ever name a file of the cache directory.
func validHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

// Sweep removes the temp files that an interrupted copy left in the cache
// at dir of root, as Open does, without creating the cache when it is
// missing: for recovery, which leaves no trace of a run it settles.
func Sweep(root *os.Root, dir string) error {
	return safefs.Sweep(root, path.Join(dir, partialDir))
}
