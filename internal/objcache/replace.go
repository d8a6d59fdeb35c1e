package objcache

import (
	"context"
	"errors"
	"os"

	"golang.org/x/sys/unix"

	"github.com/hoist-dev/hoist/internal/safefs"
)

// Replace makes the cache hold the files of a release (as Add takes them)
// and nothing else, as Add and then Keep of their hashes would, except
// that each copy goes into an object the release drops, when one is left,
// emptied and renamed, rather than into a new file: creating an inode and
// freeing another cost more than the copy (150-300 us each on a loaded
// VM, against 50 for a rename). An object is reused only when the cache's
// name is its only link, so no other tree sees it change; it leaves its
// name before it is emptied, so no name ever shows it half written.
func (c *Cache) Replace(ctx context.Context, dir *os.Root, files map[string]string) error {
	keep := make(map[string]bool, len(files))
	for _, sum := range files {
		keep[sum] = true
	}
	return errors.Join(c.add(ctx, dir, files, true), c.Keep(ctx, keep))
}

// newTemp returns an empty temp file for a copy of sha256hex, and its
// name in partial/: a spare object, moved there and emptied, if one is
// left, else a new file (see create).
func (a *adder) newTemp(sha256hex string) (*os.File, string, error) {
	for {
		tmp := a.c.tempName(sha256hex)
		a.mu.Lock()
		n := len(a.spares)
		var spare string
		if n > 0 {
			spare, a.spares = a.spares[n-1], a.spares[:n-1]
		}
		a.mu.Unlock()
		if n == 0 {
			return a.create(tmp)
		}
		if f, err := a.reuse(spare, tmp); err == nil {
			return f, tmp, nil
		}
		// Not reusable (other links, gone, a failed call): Keep drops it.
	}
}

// reuse moves the object spare, if the cache's is its only link, to the
// temp name tmp of partial/, and empties it.
func (a *adder) reuse(spare, tmp string) (*os.File, error) {
	f, err := safefs.OpenAt(a.objects, spare, unix.O_RDWR|unix.O_NOFOLLOW|unix.O_NONBLOCK)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	err = safefs.Control(f, func(fd int) error { return unix.Fstat(fd, &st) })
	if err == nil && (st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink != 1) {
		err = errNotSpare
	}
	if err == nil {
		err = renameAt(a.objects, spare, a.partial, tmp)
	}
	if err == nil {
		// After the rename: the object's name never shows it emptied.
		if err = f.Truncate(0); err != nil {
			safefs.Control(a.partial, func(pfd int) error { return unix.Unlinkat(pfd, tmp, 0) })
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// errNotSpare means an object has other links than the cache's.
var errNotSpare = errors.New("object has other links")

// renameAt renames from in the directory fromDir to to in toDir.
func renameAt(fromDir *os.File, from string, toDir *os.File, to string) error {
	return safefs.Control(fromDir, func(ffd int) error {
		return safefs.Control(toDir, func(tfd int) error { return unix.Renameat(ffd, from, tfd, to) })
	})
}
