// Package lazyfs is a test-only FUSE file system that loses, on a simulated
// power cut, everything that was not made durable, like Jepsen's LazyFS but
// stricter: it also forgets directory changes that no directory fsync made
// durable. Tests mount it, run real processes (hoist apply) on it, cut the
// power at every step, and check that what is left is exactly the old or
// exactly the new state. It only holds data in memory.
//
// # Model
//
// Each inode has a volatile state (content, mode, owner, times, symlink
// target; for a directory its entries, name → inode), which the mount shows,
// and a durable state, which is what a power cut leaves. The rules keep only
// what fsync-careful code may rely on on Linux:
//
//   - fsync or fdatasync of a regular file makes its content and metadata
//     durable — not its name.
//   - fsync of a directory makes its entries and metadata durable — the
//     names, not the content of the files they name.
//   - A new inode is durable as created (empty, with its initial mode and
//     owner): if a synced directory entry reaches it, it comes back at least
//     like that. A symlink's target is part of its creation.
//   - Nothing else is durable: not rename, unlink, link, mkdir, chmod or
//     write on their own, nor close, nor sync(2)/syncfs(2): the kernel
//     passes those only to virtiofs servers, never to a FUSE mount.
//
// Code that relies on syncfs (the engine's install and fetch do) therefore
// looks as if it made nothing durable. Options.GlobalCommit is for it: then
// every fsync makes everything durable, as one journal commit does on ext4
// or xfs, so the code's next fsync (its journal's) stands in for the
// syncfs. The window between the two is the only difference from a real
// disk, and in the pessimistic direction.
//
// PowerCut rebuilds the file system from the durable entries reachable from
// the root. A file durably named but written since its last fsync comes
// back with its last synced content, or empty with Options.UnsyncedAsEmpty
// (ext4's zero-length file after rename without fsync). So:
//
//   - write without fsync: lost; write + fsync: survives.
//   - new file, fsync, no directory fsync: the name is gone.
//   - new file, directory fsync, no file fsync: the name is there, empty.
//   - rename (or unlink) without directory fsync: undone; the old file is
//     back under the old name.
//   - rename between two directories fsynced in only one: the file is under
//     both names or neither. A directory found under two names is kept under
//     the first one found breadth-first in name order.
//
// Link counts are recounted from the durable entries. Inode numbers (st_ino)
// are kept across cuts, as a disk keeps them.
//
// # Serving
//
// The server speaks the raw FUSE protocol (go-fuse's RawFileSystem), so it
// owns the kernel's inode handles (nodeids) instead of mirroring a tree the
// cut would invalidate. Entry and attribute timeouts are zero, so the kernel
// asks for every path component and stat, and files are opened without
// keeping the page cache. Each cut starts a new epoch: nodeids are never
// reused, requests on older ones or on older file handles fail with EIO, and
// the kernel is told to drop its cache of the old inodes, so no stale data is
// ever served. Every request runs under one mutex and nothing under it calls
// into the kernel, so concurrent requests and a cut cannot deadlock; kernel
// notifications are sent after the mutex is released.
//
// The server runs in a process of its own, lazyfsd (built with go build on
// the first Mount of a test process), which takes commands on a pipe: a Go
// process must not serve a FUSE mount it also forks children into: a child's
// chdir or exec in the mount blocks the forking thread while it holds one of
// the runtime's Ps, and with GOMAXPROCS=1 nothing is left to answer. When
// the pipe ends (Unmount, or the test process died) lazyfsd unmounts, lazily
// if the mount is busy, and exits, so later users get errors, not hangs.
//
// The mount allows other users when mounted by root (with
// default_permissions: the kernel checks modes), so code under test may drop
// privileges. Locks (flock, fcntl) are handled by the kernel locally.
//
// # Crash points
//
// A test first builds its starting state (hoist init, a first apply) and
// makes it durable with FS.Sync, as if it had been on disk for long.
// CrashAfter(n, step) makes every request after the n-th change (or the
// n-th fsync) fail with EIO, as a dead disk would, until PowerCut. Running
// the code under test with n = 0, 1, 2, ... until it completes puts a power
// cut between every pair of its steps. Only fsyncs change the durable state,
// so with step Sync far fewer runs cover every distinct outcome (all of them
// unless UnsyncedAsEmpty, where a write after the last fsync matters too).
//
// # Limits
//
// The model loses whole changes, never parts of them, and it never keeps an
// unsynced change: a real disk may also persist some unsynced changes (a
// rename or unlink committed by the next journal flush, a prefix of a
// write, blocks in another order). So code passing here must still not rely
// on unsynced changes being lost; what this checks is that every synced
// state the code can leave is one it accepts. UnsyncedAsEmpty adds the
// commonest torn outcome, a durably named file that comes back empty.
// Capacity counts file content only. No xattrs and no O_TMPFILE.
package lazyfs
