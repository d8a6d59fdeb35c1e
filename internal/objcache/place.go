package objcache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"github.com/hoist-dev/hoist/internal/safefs"
)

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
		if err != nil && !linkUnsupported(err) {
			return fmt.Errorf("link %s: %w", name, err)
		}
		if err == nil {
			return nil
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
