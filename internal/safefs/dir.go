package safefs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Control runs fn on f's descriptor, holding f open meanwhile, and again
// while a signal interrupts it (the Go runtime's preemption signals can, on
// FUSE and network file systems; os does the same for its calls). Once f is
// closed it fails with os.ErrClosed: a descriptor number never outlives its
// file, so a stale handle cannot reach a file the kernel reused it for.
func Control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	cerr := rc.Control(func(fd uintptr) {
		for ferr = fn(int(fd)); ferr == unix.EINTR; ferr = fn(int(fd)) {
		}
	})
	if cerr != nil { // Control fails only once f is closed
		return fmt.Errorf("%s: %w", f.Name(), os.ErrClosed)
	}
	return ferr
}

// OpenAt opens name in the directory d, close-on-exec, with flags as
// openat(2) takes them. The file is named d's name joined with name.
func OpenAt(d *os.File, name string, flags int) (*os.File, error) {
	var fd int
	err := Control(d, func(dfd int) (err error) {
		fd, err = unix.Openat(dfd, name, flags|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path.Join(d.Name(), name)), nil
}

// openReal opens the directory dir of root one name at a time, each with
// O_NOFOLLOW|O_DIRECTORY: a symlink on the way fails with ELOOP, a file
// with ENOTDIR.
func openReal(root *os.Root, dir string) (*os.File, error) {
	dir = path.Clean(dir)
	if !fs.ValidPath(dir) {
		return nil, &fs.PathError{Op: "open directory", Path: dir, Err: errors.New("path leaves the root")}
	}
	d, err := root.Open(".")
	if err != nil {
		return nil, err
	}
	for name := range strings.SplitSeq(dir, "/") {
		if name == "." {
			continue
		}
		sub, err := OpenAt(d, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW)
		d.Close()
		if err != nil {
			return nil, &fs.PathError{Op: "open directory", Path: dir, Err: err}
		}
		d = sub
	}
	return d, nil
}

// Sweep removes the temp files (names starting with TempPrefix) that
// crashed writers left in the directory dir of root. Directories are left
// alone: a temp directory is someone else's work in progress (a clone,
// say), not a torn write. A dir that is missing, or that cannot be reached
// without following a symlink, is not an error.
func Sweep(root *os.Root, dir string) error {
	d, err := openReal(root, dir)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
		return nil // nothing to sweep
	}
	if err != nil {
		return err
	}
	defer d.Close()
	return SweepDir(d)
}

// sweepBatch is how many names a sweep holds in memory at once.
const sweepBatch = 256

// SweepDir is Sweep in the open directory d.
func SweepDir(d *os.File) error {
	// A descriptor of its own to list with: reading moves its offset.
	l, err := OpenAt(d, ".", unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return &fs.PathError{Op: "open directory", Path: d.Name(), Err: err}
	}
	defer l.Close()
	// In batches: d may be writable by the unprivileged manager, which
	// could fill it with millions of names. Unlinking names already listed
	// does not make the listing skip or repeat the others (POSIX readdir).
	for {
		entries, err := l.ReadDir(sweepBatch)
		for _, ent := range entries {
			if !strings.HasPrefix(ent.Name(), TempPrefix) || ent.IsDir() {
				continue
			}
			err := Control(d, func(fd int) error { return unix.Unlinkat(fd, ent.Name(), 0) })
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove leftover: %w", &fs.PathError{Op: "remove", Path: path.Join(d.Name(), ent.Name()), Err: err})
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", d.Name(), err)
		}
	}
}

// SyncFS makes every change in the filesystem holding dir durable
// (syncfs(2)): one call after many renames instead of an fsync per
// directory.
func SyncFS(dir *os.Root) error {
	d, err := dir.Open(".")
	if err != nil {
		return fmt.Errorf("syncfs: %w", err)
	}
	defer d.Close()
	if err := Control(d, unix.Syncfs); err != nil {
		return fmt.Errorf("syncfs %s: %w", dir.Name(), err)
	}
	return nil
}

// SyncDir fsyncs the directory dir/name so that renames and removals in it
// survive a power cut.
func SyncDir(dir *os.Root, name string) error {
	d, err := dir.Open(name)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", name, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", name, err)
	}
	return nil
}

// TreeSize is the bytes of the regular files below dir; symlinks are not
// followed.
func TreeSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	return n, err
}
