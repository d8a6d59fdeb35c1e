package objcache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"sort"
	"strconv"
	"sync"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/hoist-dev/hoist/internal/iobuf"
	"github.com/hoist-dev/hoist/internal/safefs"
)

// PartialPath is where a download of the object in progress lives,
// relative to the app root given to Open. It survives kill -9 and a
// reboot, so a download can resume from its length; Adopt moves it into
// the cache once complete and verified.
func (c *Cache) PartialPath(sha256hex string) string {
	return path.Join(c.dir, partialDir, sha256hex)
}

// Adopt moves the complete download of the object, whose content the
// caller has checked against sha256hex, from PartialPath into the cache.
// Like Add's copies it is not flushed (Add says why): the tree staged from
// it is, with one syncfs, instead of an fsync per object.
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
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("object cache: adopt %s: %w", sha256hex, err)
	}
	return c.enter(from, sha256hex)
}

// Add copies the files of a release that the cache lacks into it: files
// maps each file's path in dir to its sha256. Each copy is hashed, and one
// that does not have its sha256 (the file was changed since it was
// verified: live files may be written in place) is left out, and reported
// with ErrMismatch once the others are in. Each object is copied under a
// temp name and renamed to its hash when complete, one per CPU at a time.
// Like Place it never links. After any error, the objects already named
// stay: each is complete.
//
// Objects are not flushed: a power cut may tear one that keeps its name.
// Flushing would make every update wait for its whole release to reach the
// disk; instead every tree staged from the cache is verified, and one that
// fails is staged again without it (the engine does), so a torn object
// costs one download, never a wrong file.
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
	var mu sync.Mutex
	var mismatched []string
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.NumCPU())
	for sum, p := range todo {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			err := c.addOne(dir, p, sum)
			if errors.Is(err, ErrMismatch) {
				mu.Lock()
				mismatched = append(mismatched, p)
				mu.Unlock()
				return nil
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(mismatched) > 0 {
		sort.Strings(mismatched)
		return fmt.Errorf("%w: %s (and %d more) left out of the object cache", ErrMismatch, mismatched[0], len(mismatched)-1)
	}
	return nil
}

// addOne copies dir/name, whose content has sha256hex, into the cache.
func (c *Cache) addOne(dir *os.Root, name, sha256hex string) error {
	tmp := c.tempName(sha256hex)
	if err := c.copyIn(tmp, dir, name, sha256hex); err != nil {
		c.d.Remove(tmp)
		if errors.Is(err, ErrMismatch) {
			return err
		}
		return fmt.Errorf("add %s to the object cache: %w", name, err)
	}
	if err := c.enter(tmp, sha256hex); err != nil {
		c.d.Remove(tmp)
		return err
	}
	return nil
}

// copyIn writes a copy of dir/name, a regular file, with its mode to the
// new file tmp of the cache, and checks that the copy has sha256hex.
func (c *Cache) copyIn(tmp string, dir *os.Root, name, sha256hex string) error {
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
	dst, err := c.d.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	defer dst.Close()
	if err := c.copyData(dst, src); err != nil {
		return err
	}
	// The copy is hashed, not the source: what is cached is what was checked.
	h := sha256.New()
	if _, err := dst.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if _, err := iobuf.Copy(h, dst); err != nil {
		return err
	}
	if hex.EncodeToString(h.Sum(nil)) != sha256hex {
		return ErrMismatch
	}
	if err := dst.Chmod(mode); err != nil {
		return err
	}
	return dst.Close()
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

// tempName is a new name in partial/ for an object being copied in,
// unique to this process (not random: reading 8 random bytes per file was
// a sixth of copying a release in); Open removes the leftovers of others.
func (c *Cache) tempName(sha256hex string) string {
	return path.Join(partialDir, safefs.TempPrefix+sha256hex+"-"+strconv.Itoa(os.Getpid())+"-"+strconv.FormatUint(c.seq.Add(1), 10))
}
