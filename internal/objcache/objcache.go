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
// the downloader hashed it while streaming; Add: a file of a verified
// release, copied while the engine holds the root's lock), and only root
// writes here, so Has trusts the name and does not hash. No placed or
// linked file is fsynced (the caller flushes its whole tree at
// once), but an object is named by its hash only once its data is on disk,
// so a power cut cannot leave a torn object. Every tree staged from the
// cache is verified against its signed manifest anyway (the engine does):
// a tree that fails is a reason to drop the cache, not to trust it.
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
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/hoist-dev/hoist/internal/safefs"
)

// partialDir holds downloads in progress, inside the cache directory.
const partialDir = "partial"

// downloadMode is the mode of an adopted download: a plain file (a file
// staged with another mode is then copied, not linked).
const downloadMode = 0o644

// ErrBadHash means a name is not a lowercase sha256 hex string.
var ErrBadHash = errors.New("not a sha256 hex digest")

// Cache is an open object cache. Its methods are safe for concurrent use.
type Cache struct {
	dir     string   // relative to the app root
	d       *os.Root // the cache directory
	noClone atomic.Bool
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
	return &Cache{dir: dir, d: d}, nil
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

// Place creates dir/name, which must not exist, with the object's content
// and mode: a clone or a copy, never a link to the cached file. It is not
// fsynced; the caller makes the tree it fills durable at once (syncfs).
func (c *Cache) Place(ctx context.Context, sha256hex string, dir *os.Root, name string, mode fs.FileMode) error {
	src, err := c.open(ctx, sha256hex)
	if err != nil {
		return fmt.Errorf("place %s: %w", name, err)
	}
	defer src.Close()
	dst, err := dir.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("place %s: %w", name, err)
	}
	if err := c.fill(dst, src, mode); err != nil {
		dir.Remove(name)
		return fmt.Errorf("place %s: %w", name, err)
	}
	return nil
}

// Link creates the entry name of the open directory dir, which must not
// exist, as a hard link to the object when the object has mode (a link
// cannot change it), else as Place does. It is for a staging tree whose
// installer copies, rather than links, every file that has other links
// (install.Options.CopyShared), so that no live file ever shares the
// cache's inode; a file that is staged but not installed costs no copy.
func (c *Cache) Link(ctx context.Context, sha256hex string, dir *os.File, name string, mode fs.FileMode) error {
	src, err := c.open(ctx, sha256hex)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	if fi.Mode().Perm() == mode {
		err := safefs.Control(src, func(sfd int) error {
			return safefs.Control(dir, func(dfd int) error {
				// The object's own descriptor, so the inode linked is the
				// one opened and checked.
				return unix.Linkat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", sfd), dfd, name, unix.AT_SYMLINK_FOLLOW)
			})
		})
		if err == nil || !linkUnsupported(err) {
			return wrap("link "+name, err)
		}
	}
	dst, err := safefs.OpenAt(dir, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	if err := c.fill(dst, src, mode); err != nil {
		safefs.Control(dir, func(dfd int) error { return unix.Unlinkat(dfd, name, 0) })
		return fmt.Errorf("link %s: %w", name, err)
	}
	return nil
}

// linkUnsupported reports errors after which copying still works: another
// filesystem, no hard links, a full link count, no /proc.
func linkUnsupported(err error) bool {
	return errors.Is(err, unix.EXDEV) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EMLINK) ||
		errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOENT)
}

func wrap(what string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// open opens the object for reading.
func (c *Cache) open(ctx context.Context, sha256hex string) (*os.File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !validHash(sha256hex) {
		return nil, fmt.Errorf("%w: %q", ErrBadHash, sha256hex)
	}
	return openRegular(c.d, sha256hex)
}

// fill writes src's content to the new file dst with mode (set explicitly,
// whatever the umask) and closes dst.
func (c *Cache) fill(dst, src *os.File, mode fs.FileMode) error {
	err := c.copyData(dst, src)
	if err == nil {
		err = dst.Chmod(mode)
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	return err
}

// copyData fills the new file dst with src's content: a clone of its
// extents where the filesystem can (remembered when it cannot), else an
// in-kernel copy (io.Copy between files uses copy_file_range).
func (c *Cache) copyData(dst, src *os.File) error {
	if !c.noClone.Load() {
		err := safefs.Control(dst, func(dfd int) error {
			return safefs.Control(src, func(sfd int) error { return unix.IoctlFileClone(dfd, sfd) })
		})
		if err == nil {
			return nil
		}
		if !cannotClone(err) {
			return fmt.Errorf("clone: %w", err)
		}
		c.noClone.Store(true)
	}
	_, err := io.Copy(dst, src)
	return err
}

// cannotClone reports whether a FICLONE error means "not here" (another
// filesystem, one without shared extents) rather than a failure.
func cannotClone(err error) bool {
	return errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOTTY) ||
		errors.Is(err, unix.EXDEV) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS)
}

// PartialPath is where a download of the object in progress lives,
// relative to the app root given to Open. It survives kill -9 and a
// reboot, so a download can resume from its length; Adopt moves it into
// the cache once complete and verified.
func (c *Cache) PartialPath(sha256hex string) string {
	return path.Join(c.dir, partialDir, sha256hex)
}

// Adopt moves the complete download of the object, whose content the
// caller has checked against sha256hex, from PartialPath into the cache,
// once it is on disk (fsync).
func (c *Cache) Adopt(sha256hex string) error {
	if !validHash(sha256hex) {
		return fmt.Errorf("adopt: %w: %q", ErrBadHash, sha256hex)
	}
	from := path.Join(partialDir, sha256hex)
	f, err := c.d.OpenFile(from, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("object cache: %w", err)
	}
	err = f.Chmod(downloadMode)
	if err == nil {
		err = f.Sync() // durable before it is named: no torn object after a power cut
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("object cache: adopt %s: %w", sha256hex, err)
	}
	return c.enter(from, sha256hex)
}

// Add copies the files of a verified release that the cache lacks into
// it: files maps each file's path in dir to its sha256, and nobody else may
// write those files meanwhile. Each object is copied under a temp name,
// all are flushed at once (syncfs) and only then named by their hash, so a
// power cut cannot leave a torn object behind a name. Like Place it never
// links. After an error, the objects already named stay: each is complete.
func (c *Cache) Add(ctx context.Context, dir *os.Root, files map[string]string) error {
	todo := map[string]string{} // sha256 → a path with that content
	for p, sum := range files {
		if !validHash(sum) {
			return fmt.Errorf("add %s: %w: %q", p, ErrBadHash, sum)
		}
		if _, ok := todo[sum]; !ok && !c.Has(sum) {
			todo[sum] = p
		}
	}
	if len(todo) == 0 {
		return nil
	}
	temps := make(map[string]string, len(todo)) // sha256 → temp name
	defer func() {
		for _, tmp := range temps {
			c.d.Remove(tmp) // those not renamed
		}
	}()
	for sum, p := range todo {
		if err := ctx.Err(); err != nil {
			return err
		}
		tmp, err := tempName(sum)
		if err != nil {
			return err
		}
		temps[sum] = tmp
		if err := c.copyIn(tmp, dir, p); err != nil {
			return fmt.Errorf("add %s to the object cache: %w", p, err)
		}
	}
	if err := safefs.SyncFS(c.d); err != nil {
		return fmt.Errorf("object cache: %w", err)
	}
	for sum, tmp := range temps {
		if err := c.enter(tmp, sum); err != nil {
			return err
		}
		delete(temps, sum)
	}
	return nil
}

// copyIn writes a copy of dir/name, a regular file, with its mode to the
// new file tmp of the cache.
func (c *Cache) copyIn(tmp string, dir *os.Root, name string) error {
	src, err := openRegular(dir, name)
	if err != nil {
		return err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	mode := fi.Mode().Perm()
	dst, err := c.d.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	return c.fill(dst, src, mode)
}

// openRegular opens dir/name if it is a regular file, checked on the open
// descriptor against the name's lstat: os.Root follows symlinks. Unlike
// safefs.OpenRegular it accepts hard links, as installed files are.
func openRegular(dir *os.Root, name string) (*os.File, error) {
	before, err := dir.Lstat(name)
	if err != nil {
		return nil, err
	}
	if !before.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (%s)", name, safefs.ErrNotRegular, before.Mode().Type())
	}
	f, err := dir.OpenFile(name, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if after, err := f.Stat(); err != nil || !os.SameFile(before, after) {
		f.Close()
		return nil, fmt.Errorf("%s: %w (replaced while opening)", name, safefs.ErrNotRegular)
	}
	return f, nil
}

// enter makes the cache file from (a path in the cache directory) the
// object sha256hex.
func (c *Cache) enter(from, sha256hex string) error {
	if err := c.d.Rename(from, sha256hex); err != nil {
		return fmt.Errorf("object cache: %w", err)
	}
	return nil
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
// false.
func (c *Cache) sweep(ctx context.Context, dir string, keep func(name string) bool) error {
	f, err := c.d.Open(dir)
	if err != nil {
		return fmt.Errorf("object cache: %w", err)
	}
	defer f.Close()
	for {
		entries, err := f.ReadDir(256)
		for _, ent := range entries {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if keep(ent.Name()) {
				continue
			}
			if err := c.d.Remove(path.Join(dir, ent.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("object cache: %w", err)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("object cache: list %s: %w", dir, err)
		}
	}
}

// tempName is a new name in partial/ for an object being copied in; Open
// removes such leftovers.
func tempName(sha256hex string) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("temp name: %w", err)
	}
	return path.Join(partialDir, safefs.TempPrefix+sha256hex+"-"+hex.EncodeToString(b[:])), nil
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
