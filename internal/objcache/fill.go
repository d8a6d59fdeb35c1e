package objcache

import (
	"context"
	"fmt"
	"os"
	"path"
	"runtime"
	"sort"
	"strconv"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

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
// with ErrMismatch once the others are in. Each object is copied to a file
// that gets its hash as its name only when complete (see adder.create),
// one directory's files per CPU at a time. Like Place it never links.
// After any error, the objects already named stay: each is complete.
//
// The work is system calls, mostly creating the copies: what the cache
// has is read from one listing of it, each source directory is opened once
// for its files, and every file is then reached by its single name.
//
// Objects are not flushed: a power cut may tear one that keeps its name.
// Flushing would make every update wait for its whole release to reach the
// disk; instead every tree staged from the cache is verified, and one that
// fails is staged again without it (the engine does), so a torn object
// costs one download, never a wrong file.
func (c *Cache) Add(ctx context.Context, dir *os.Root, files map[string]string) error {
	return c.add(ctx, dir, files, false)
}

// add is Add, and with reuse Replace's copies into dropped objects.
func (c *Cache) add(ctx context.Context, dir *os.Root, files map[string]string, reuse bool) error {
	have, err := c.objects()
	if err != nil {
		return err
	}
	todo := map[string]string{} // sha256 → a path with that content
	wanted := make(map[string]bool, len(files))
	for p, sum := range files {
		if !validHash(sum) {
			return fmt.Errorf("add %s: %w: %q", p, ErrBadHash, sum)
		}
		wanted[sum] = true
		if _, ok := todo[sum]; !ok && !have[sum] {
			todo[sum] = p
		}
	}
	if len(todo) == 0 {
		return nil
	}
	a, err := c.newAdder()
	if err != nil {
		return err
	}
	defer a.close()
	if reuse {
		for sum := range have {
			if !wanted[sum] {
				a.spares = append(a.spares, sum)
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.NumCPU())
	for _, b := range batches(todo) {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return a.addBatch(gctx, dir, b) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(a.mismatched) > 0 {
		sort.Strings(a.mismatched)
		return fmt.Errorf("%w: %s (and %d more) left out of the object cache", ErrMismatch, a.mismatched[0], len(a.mismatched)-1)
	}
	return nil
}

// objects lists the objects of the cache, in one read of its directory.
func (c *Cache) objects() (map[string]bool, error) {
	f, err := c.d.Open(".")
	if err != nil {
		return nil, fmt.Errorf("object cache: %w", err)
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("object cache: list: %w", err)
	}
	have := make(map[string]bool, len(entries))
	for _, ent := range entries {
		if ent.Type().IsRegular() && validHash(ent.Name()) {
			have[ent.Name()] = true
		}
	}
	return have, nil
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
	return safefs.TempPrefix + sha256hex + "-" + c.pid + "-" + strconv.FormatUint(c.seq.Add(1), 10)
}
