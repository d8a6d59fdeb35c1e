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
	"sort"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/hoist-dev/hoist/internal/iobuf"
	"github.com/hoist-dev/hoist/internal/safefs"
)

// Copying files into the cache (Add, Replace): by batches of one source
// directory, each copy checked, then named by its hash.

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
