// Package safefs reads and replaces files in directories that a less
// privileged user may write to (statuses/, events/signals/).
//
// Every access goes through an *os.Root, so nothing outside the directory is
// reached. On top of that, reads refuse anything but a plain regular file with
// a single link: a symlink or hard link planted by the other user to make root
// read a file of its choosing is an error, not a redirect. Writes never open
// the existing file; they replace the name atomically (temp file in the same
// directory, fsync, rename, fsync of the directory), so a reader sees the old
// or the new content and never a mix, even after a power cut.
package safefs

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"syscall"
	"time"
)

var (
	// ErrNotRegular means the name is a symlink, fifo, socket, device or directory.
	ErrNotRegular = errors.New("not a regular file")
	// ErrHardLink means the file has more than one link, so it may alias a file elsewhere.
	ErrHardLink = errors.New("file has other hard links")
	// ErrTooLarge means the file exceeds the caller's size limit.
	ErrTooLarge = errors.New("file too large")
)

// ReadFile returns the content of dir/name, at most limit bytes. A missing
// file yields an error matching fs.ErrNotExist.
func ReadFile(dir *os.Root, name string, limit int64) ([]byte, error) {
	f, err := OpenRegular(dir, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadCapped(f, name, limit)
}

// ReadCapped reads all of r, named name in errors, and fails with
// ErrTooLarge past limit bytes instead of reading on.
func ReadCapped(r io.Reader, name string, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("read %s: %w (limit %d bytes)", name, ErrTooLarge, limit)
	}
	return data, nil
}

// ReadTail returns the last limit bytes of f, and the offset where they
// start: a log or journal read from its end, with its size capped.
func ReadTail(f *os.File, limit int64) ([]byte, int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	start := max(fi.Size()-limit, 0)
	data, err := io.ReadAll(io.NewSectionReader(f, start, limit))
	return data, start, err
}

// OpenRegular opens dir/name for reading if, and only if, it is a regular file
// with one link. The check is made on the open descriptor and compared with
// the name's lstat, so a swap between the two is detected.
func OpenRegular(dir *os.Root, name string) (*os.File, error) {
	before, err := dir.Lstat(name)
	if err != nil {
		return nil, err
	}
	if !before.Mode().IsRegular() {
		return nil, fmt.Errorf("open %s: %w (%s)", name, ErrNotRegular, before.Mode().Type())
	}
	// O_NONBLOCK: a fifo swapped in after the lstat must not block the open.
	f, err := dir.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	after, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", name, err)
	}
	if !os.SameFile(before, after) || !after.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("open %s: %w (replaced while opening)", name, ErrNotRegular)
	}
	if st, ok := after.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		f.Close()
		return nil, fmt.Errorf("open %s: %w (%d links)", name, ErrHardLink, st.Nlink)
	}
	return f, nil
}

// WriteFile atomically replaces dir/name with data.
func WriteFile(dir *os.Root, name string, data []byte, perm fs.FileMode) error {
	return Write(dir, name, bytes.NewReader(data), perm)
}

// Write atomically replaces dir/name with the content of r. The temp file is
// created exclusively next to the target, so a planted name cannot redirect
// it, and the mode is set explicitly so the umask does not change it.
func Write(dir *os.Root, name string, r io.Reader, perm fs.FileMode) error {
	return write(dir, name, r, perm, owner{-1, -1}, time.Time{})
}

// WriteFileNewer is WriteFile for a file that web servers serve with
// validators made of its mtime in whole seconds (nginx's ETag and
// Last-Modified): the new file's mtime is at least one second past the one
// it replaces, set before it takes the name, so that a client asking
// "changed since?" right after a quick second write is never told no.
func WriteFileNewer(dir *os.Root, name string, data []byte, perm fs.FileMode) error {
	mtime := time.Now()
	if fi, err := dir.Lstat(name); err == nil {
		mtime = maxTime(mtime, fi.ModTime().Truncate(time.Second).Add(time.Second))
	}
	return write(dir, name, bytes.NewReader(data), perm, owner{-1, -1}, mtime)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// owner is the uid:gid a written file gets (-1: unchanged).
type owner struct{ uid, gid int }

// WriteFileKeepOwner is WriteFile for a file another user owns: when run as
// root, the new file gets the owner of the file it replaces (of dir when
// there is none) before it takes the name, so no path is ever chowned.
func WriteFileKeepOwner(dir *os.Root, name string, data []byte, perm fs.FileMode) error {
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		fi, err := dir.Lstat(name)
		if errors.Is(err, fs.ErrNotExist) {
			fi, err = dir.Stat(path.Dir(name))
		}
		if err != nil {
			return fmt.Errorf("owner of %s: %w", name, err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(st.Uid), int(st.Gid)
		}
	}
	return write(dir, name, bytes.NewReader(data), perm, owner{uid, gid}, time.Time{})
}

// WriteFileNoDirSync is WriteFile without the fsync of the directory after
// the rename, for a file a later write supersedes anyway: the new content
// is on disk before it takes the name, so no reader ever sees a partial
// file, but a crash may bring back the file it replaced.
func WriteFileNoDirSync(dir *os.Root, name string, data []byte, perm fs.FileMode) error {
	return replace(dir, name, bytes.NewReader(data), perm, owner{-1, -1}, time.Time{})
}

// write is Write with the new file chowned to o and, unless mtime is zero,
// given that modification time.
func write(dir *os.Root, name string, r io.Reader, perm fs.FileMode, o owner, mtime time.Time) error {
	if err := replace(dir, name, r, perm, o, mtime); err != nil {
		return err
	}
	return SyncDir(dir, path.Dir(name))
}

// replace is write up to the rename: the name may not be durable yet.
func replace(dir *os.Root, name string, r io.Reader, perm fs.FileMode, o owner, mtime time.Time) error {
	tmp, err := tempName(name)
	if err != nil {
		return err
	}
	f, err := dir.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("create temp file for %s: %w", name, err)
	}
	if o.uid != -1 || o.gid != -1 {
		if err := f.Chown(o.uid, o.gid); err != nil {
			f.Close()
			dir.Remove(tmp)
			return fmt.Errorf("chown temp file for %s: %w", name, err)
		}
	}
	if err := Fill(f, r, perm); err != nil {
		dir.Remove(tmp)
		return fmt.Errorf("write %s: %w", name, err)
	}
	if !mtime.IsZero() {
		if err := dir.Chtimes(tmp, mtime, mtime); err != nil {
			dir.Remove(tmp)
			return fmt.Errorf("set the time of %s: %w", name, err)
		}
	}
	if err := dir.Rename(tmp, name); err != nil {
		dir.Remove(tmp)
		return fmt.Errorf("rename into %s: %w", name, err)
	}
	return nil
}

// Fill writes r to the new file f with perm (set explicitly, so the umask
// does not change it), fsyncs f and closes it, whatever happens. Each step's
// error names it and f.
func Fill(f *os.File, r io.Reader, perm fs.FileMode) error {
	err := f.Chmod(perm)
	if err == nil {
		_, err = io.Copy(f, r) // copy_file_range when r is a file
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// TempPrefix starts the name of every temp file Write creates, so that
// cleanup code can recognise leftovers of a crash.
const TempPrefix = ".hoist-tmp-"

func tempName(name string) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("temp name: %w", err)
	}
	return path.Join(path.Dir(name), TempPrefix+path.Base(name)+"-"+hex.EncodeToString(b[:])), nil
}
