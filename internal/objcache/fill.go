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
// with ErrMismatch once the others are in. Each object is copied to a file
// that gets its hash as its name only when complete (see adder.create),
// one directory's files per CPU at a time. Like Place it never links. After any error, the
// objects already named stay: each is complete.
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

// batch is files of one directory to add, by name, with their sha256.
type batch struct {
	dir   string
	names []string
	sums  []string
}

// batchSize bounds a batch, so that a release of one large directory is
// still copied one batch per CPU at a time.
const batchSize = 64

// batches groups the paths of todo (sha256 → path) by directory, in
// batches of at most batchSize, in path order.
func batches(todo map[string]string) []batch {
	sumOf := make(map[string]string, len(todo))
	paths := make([]string, 0, len(todo))
	for sum, p := range todo {
		sumOf[p] = sum
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var out []batch
	for _, p := range paths {
		d, name := path.Split(p)
		if n := len(out); n == 0 || out[n-1].dir != d || len(out[n-1].names) == batchSize {
			out = append(out, batch{dir: d})
		}
		b := &out[len(out)-1]
		b.names = append(b.names, name)
		b.sums = append(b.sums, sumOf[p])
	}
	return out
}

// adder is one Add in progress: the cache's directories, held open for
// every copy.
type adder struct {
	c          *Cache
	objects    *os.File // the cache directory
	partial    *os.File // its partial/
	mu         sync.Mutex
	mismatched []string // guarded by mu
	spares     []string // guarded by mu: objects Replace drops, to reuse
}

func (c *Cache) newAdder() (*adder, error) {
	objects, err := c.d.Open(".")
	if err != nil {
		return nil, fmt.Errorf("object cache: %w", err)
	}
	partial, err := c.d.Open(partialDir)
	if err != nil {
		objects.Close()
		return nil, fmt.Errorf("object cache: %w", err)
	}
	return &adder{c: c, objects: objects, partial: partial}, nil
}

func (a *adder) close() {
	a.objects.Close()
	a.partial.Close()
}

// addBatch copies the files of b, found in dir, into the cache.
func (a *adder) addBatch(ctx context.Context, dir *os.Root, b batch) error {
	d, err := dir.Open(path.Clean(b.dir))
	if err != nil {
		return fmt.Errorf("add %s to the object cache: %w", b.dir, err)
	}
	defer d.Close()
	for i, name := range b.names {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := a.addOne(d, name, b.sums[i])
		if errors.Is(err, ErrMismatch) {
			a.mu.Lock()
			a.mismatched = append(a.mismatched, path.Join(b.dir, name))
			a.mu.Unlock()
			continue
		}
		if err != nil {
			return fmt.Errorf("add %s to the object cache: %w", path.Join(b.dir, name), err)
		}
	}
	return nil
}

// addOne copies the file name of the directory d, whose content has
// sha256hex, into the cache: to a temp file, checked, then named by its
// hash.
func (a *adder) addOne(d *os.File, name, sha256hex string) error {
	dst, tmp, err := a.newTemp(sha256hex)
	if err != nil {
		return err
	}
	err = a.c.copyIn(dst, d, name, sha256hex)
	if err == nil && tmp == "" {
		err = a.name(dst, sha256hex)
		if linkUnsupported(err) {
			// No /proc, or a filesystem that will not link the file:
			// copy it again the other way, and from now on.
			a.c.noTmpfile.Store(true)
			dst.Close()
			return a.addOne(d, name, sha256hex)
		}
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if tmp == "" {
		return err // an unnamed file vanishes with its descriptor
	}
	if err == nil {
		err = renameAt(a.partial, tmp, a.objects, sha256hex)
	}
	if err != nil {
		safefs.Control(a.partial, func(pfd int) error { return unix.Unlinkat(pfd, tmp, 0) })
	}
	return err
}

// create returns a new, empty file for a copy: an unnamed one in the cache
// directory (O_TMPFILE) where the filesystem has them, named once complete
// by name, which costs one directory entry where a temp name of partial/
// and its rename cost three: the bulk of filling the cache with a whole
// release. Else it is the file tmp of partial/, returned with its name.
func (a *adder) create(tmp string) (*os.File, string, error) {
	if !a.c.noTmpfile.Load() {
		f, err := safefs.OpenAt(a.objects, ".", unix.O_RDWR|unix.O_TMPFILE)
		if err == nil {
			return f, "", nil
		}
		if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EINVAL) {
			return nil, "", err
		}
		a.c.noTmpfile.Store(true)
	}
	f, err := safefs.OpenAt(a.partial, tmp, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW)
	return f, tmp, err
}

// name links the complete, unnamed file f into the cache as the object
// sha256hex; an object already there has the same content.
func (a *adder) name(f *os.File, sha256hex string) error {
	err := safefs.Control(f, func(fd int) error {
		return safefs.Control(a.objects, func(dfd int) error {
			return unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), dfd, sha256hex, unix.AT_SYMLINK_FOLLOW)
		})
	})
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	return err
}

// copyIn copies the regular file name of the directory d, with its mode,
// to the new, empty file dst, and checks that the copy has sha256hex.
func (c *Cache) copyIn(dst, d *os.File, name, sha256hex string) error {
	// O_NOFOLLOW: a symlink fails; O_NONBLOCK: a fifo does not hang.
	src, err := safefs.OpenAt(d, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK)
	if err != nil {
		return err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: %w (%s)", name, safefs.ErrNotRegular, fi.Mode().Type())
	}
	if err := c.copyData(dst, src); err != nil {
		return err
	}
	// The copy is hashed, not the source: what is cached is what was checked.
	h := sha256.New()
	if _, err := iobuf.Copy(h, io.NewSectionReader(dst, 0, fi.Size()+1)); err != nil {
		return err
	}
	if hex.EncodeToString(h.Sum(nil)) != sha256hex {
		return ErrMismatch
	}
	return dst.Chmod(fi.Mode().Perm())
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
