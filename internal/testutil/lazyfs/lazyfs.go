package lazyfs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// ErrUnavailable means this machine cannot mount a FUSE file system
// (/dev/fuse missing or not openable, or the mount not permitted). Tests
// skip on it.
var ErrUnavailable = errors.New("FUSE unavailable")

// DefaultSize is the capacity of a file system mounted with Options.Size 0.
const DefaultSize = 1 << 30

// Options configure a mount.
type Options struct {
	// Size is the capacity in bytes that statfs reports; writes beyond it
	// fail with ENOSPC. 0 means DefaultSize.
	Size int64
	// UnsyncedAsEmpty makes a cut empty every file written since its last
	// fsync (ext4's zero-length files after a crash) instead of rolling it
	// back to its last synced content.
	UnsyncedAsEmpty bool
}

// Step selects what CrashAfter counts.
type Step int

const (
	// AnyChange counts every request that changes the file system: create,
	// write, truncate, chmod, rename, unlink, fsync and the like. One
	// write(2) may be several FUSE writes.
	AnyChange Step = iota
	// Sync counts only fsync and fdatasync of files and directories: the
	// only requests that change what a cut leaves, so crashing after each
	// of them covers every distinct outcome (unless UnsyncedAsEmpty).
	Sync
)

// Stats are counters for test assertions and logs.
type Stats struct {
	Changes   int64 // requests that changed the file system (what AnyChange counts)
	Fsyncs    int64 // fsync/fdatasync of regular files
	DirFsyncs int64 // fsync of directories
	UsedBytes int64 // file content now held, as statfs reports it
	Crashed   bool  // CrashAfter fired and no PowerCut followed yet
	Cuts      int   // power cuts so far

	// What the last cut threw away.
	DroppedBytes    int64 // total size of the files whose content was lost or rolled back
	DroppedEntries  int   // names (path → file) that vanished or now name another file
	RestoredEntries int   // names that came back (removed or replaced without a directory fsync)
}

// FS is a mounted power-loss file system.
type FS struct {
	dir       string
	srv       *fuse.Server
	server    *server
	unmounted bool
}

// ErrNotMounted is returned by PowerCut after Unmount.
var ErrNotMounted = errors.New("lazyfs: not mounted")

// Mount mounts a new, empty file system at dir, which must be an existing
// empty directory, and serves it from this process until Unmount.
func Mount(dir string, o Options) (*FS, error) {
	if o.Size < 0 {
		return nil, fmt.Errorf("lazyfs: negative size %d", o.Size)
	}
	if o.Size == 0 {
		o.Size = DefaultSize
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("lazyfs: mount point: %w", err)
	}
	if len(entries) > 0 {
		return nil, fmt.Errorf("lazyfs: mount point %s is not empty", dir)
	}
	dev, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	dev.Close()

	s := newServer(o.Size, o.UnsyncedAsEmpty)
	root := os.Geteuid() == 0
	srv, err := fuse.NewServer(s, dir, &fuse.MountOptions{
		FsName: "lazyfs",
		Name:   "lazyfs",
		// Root may share the mount with the unprivileged users that the
		// code under test switches to; the kernel then checks modes.
		AllowOther:         root,
		DirectMount:        root,
		Options:            []string{"default_permissions"},
		DisableReadDirPlus: true,
		DisableXAttrs:      true,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: mount %s: %w", ErrUnavailable, dir, err)
	}
	go srv.Serve()
	if err := srv.WaitMount(); err != nil {
		srv.Unmount()
		return nil, fmt.Errorf("lazyfs: mount %s: %w", dir, err)
	}
	return &FS{dir: dir, srv: srv, server: s}, nil
}

// PowerCut drops everything that was not made durable, as if the machine
// lost power and rebooted: the mount then shows the durable state. File
// descriptors opened before fail with EIO and a working directory inside the
// mount is stale. Processes using the mount should be dead by then, as they
// would be after a real power loss.
func (f *FS) PowerCut() error {
	if f.unmounted {
		return ErrNotMounted
	}
	for _, id := range f.server.powerCut() {
		// Drop the kernel's page cache and attributes of the old inodes,
		// so that even a descriptor kept open reads nothing stale. An
		// inode the kernel forgot meanwhile answers ENOENT: harmless.
		f.srv.InodeNotify(id, 0, 0)
	}
	return nil
}

// CrashAfter arms a crash: after the next n changes of kind st (see Step)
// have completed, every further request fails with EIO, as from a dead
// disk, until PowerCut, which then leaves what was durable at the crash.
// n = 0 crashes at once; n < 0 disarms. Run the code under test with n = 0, 1, 2, ... until
// it completes without Stats().Crashed to cut power at every step.
func (f *FS) CrashAfter(n int64, st Step) {
	f.server.crashAfter(n, st)
}

// Stats returns the counters.
func (f *FS) Stats() Stats {
	return f.server.snapshot()
}

// Dir returns the mount point.
func (f *FS) Dir() string { return f.dir }

// Unmount unmounts the file system. If it is busy, it is detached lazily
// (fusermount3 -u -z) and served until its last user is gone, so a failed
// test can always clean up.
func (f *FS) Unmount() error {
	if f.unmounted {
		return nil
	}
	f.unmounted = true
	srv := f.srv
	err := srv.Unmount()
	if err == nil {
		return nil
	}
	out, lazyErr := exec.Command("fusermount3", "-u", "-z", f.dir).CombinedOutput()
	if lazyErr != nil {
		return fmt.Errorf("lazyfs: unmount %s: %w; lazy unmount: %v: %s", f.dir, err, lazyErr, out)
	}
	done := make(chan struct{})
	go func() {
		srv.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		// Still in use: the serving goroutines stay until the last user
		// closes its files. The mount point is free already.
	}
	return nil
}
