package lazyfs

import "errors"

var (
	// ErrUnavailable means this machine cannot mount a FUSE file system
	// (/dev/fuse missing or not openable, or the mount not permitted).
	// Tests skip on it.
	ErrUnavailable = errors.New("FUSE unavailable")
	// ErrNotMounted is returned after Unmount.
	ErrNotMounted = errors.New("lazyfs: not mounted")
)

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
	// GlobalCommit makes every fsync, of a file or a directory, make the
	// whole file system durable, as a journal commit on ext4 or xfs does.
	// Use it for code that relies on sync(2) or syncfs(2): the kernel never
	// passes those to a FUSE server, so without it such code looks as if
	// it made nothing durable. A cut between a syncfs and the next fsync
	// still loses what the syncfs would have kept.
	GlobalCommit bool
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

// stepNames name the steps in lazyfsd's crash command.
var stepNames = []string{AnyChange: "any", Sync: "sync"}

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

// reply is the daemon's answer to a command, one JSON line.
type reply struct {
	Error       string `json:"error,omitempty"`
	Unavailable bool   `json:"unavailable,omitempty"` // the mount failed with ErrUnavailable
	Stats       *Stats `json:"stats,omitempty"`
}
