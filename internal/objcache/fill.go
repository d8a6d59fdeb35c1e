package objcache

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"

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

// Add copies the files of a release that the cache lacks into it: files
// maps each file's path in dir to its sha256. Each copy is hashed, and one
// that does not have its sha256 (the file was changed since it was
// verified: live files may be written in place) is left out, and reported
// with ErrMismatch once the others are in. Each object is copied under a
// temp name, all are flushed at once (syncfs) and only then named by their
// hash, so a power cut cannot leave a torn object behind a name. Like
// Place it never links. After any error, the objects already named stay:
// each is complete.
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
	var mismatched []string
	for sum, p := range todo {
		if err := ctx.Err(); err != nil {
			return err
		}
		tmp, err := tempName(sum)
		if err != nil {
			return err
		}
		temps[sum] = tmp
		err = c.copyIn(tmp, dir, p, sum)
		if errors.Is(err, ErrMismatch) {
			c.d.Remove(tmp)
			delete(temps, sum)
			mismatched = append(mismatched, p)
			continue
		}
		if err != nil {
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
	if len(mismatched) > 0 {
		sort.Strings(mismatched)
		return fmt.Errorf("%w: %s (and %d more) left out of the object cache", ErrMismatch, mismatched[0], len(mismatched)-1)
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

// tempName is a new name in partial/ for an object being copied in; Open
// removes such leftovers.
func tempName(sha256hex string) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("temp name: %w", err)
	}
	return path.Join(partialDir, safefs.TempPrefix+sha256hex+"-"+hex.EncodeToString(b[:])), nil
}
