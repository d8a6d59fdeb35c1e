// Package supervisor is the root daemon of CONTRACT §6: it watches
// ROOT/events/signals/, a directory the unprivileged manager writes to, and
// runs the maintainers' executables in ROOT/triggers/.
//
// # Signals
//
// A signal is a regular file with a valid name (package signalname) that was
// closed after writing (IN_CLOSE_WRITE), moved in (IN_MOVED_TO), or created
// as a hard link (IN_CREATE of a file with more than one link). A file that
// is only created, or only opened by a reader, is not a signal yet: its
// writer may still be writing. Fifos, sockets, directories and symlinks are
// refused with one log line and never opened, so nothing the manager plants
// can block the supervisor or make root follow a link. Entries already present
// at start, or lost to an inotify queue overflow, are found by a rescan.
//
// # Runs
//
// The signal file is removed (lstat-checked, through os.Root) immediately
// before its trigger runs. Runs of one trigger are serialised; a signal that
// arrives while its trigger runs stays on disk and is served by exactly one
// more run afterwards, however often it was rewritten. So coalesced requests
// survive a restart of the supervisor, and every write of a signal is
// followed by a run that started after the write began. Different triggers
// run concurrently.
//
// A trigger runs only if it is a regular, executable file owned by root (or
// the supervisor's user) and not writable by group or others, in a triggers/
// directory that is checked by the same rules (a real directory, not a
// symlink), so that nobody else can plant or swap a trigger. As the trigger
// runs by its path, ROOT and each of its ancestors up to / are checked too
// before every run, the way sshd's StrictModes does (a few lstat calls):
// real, searchable directories owned by root (or the supervisor's user) and
// not writable by group or others, except sticky ones above ROOT like /tmp,
// where only an entry's owner can rename it (ROOT itself never: anyone
// could plant entries the engine uses). Otherwise anyone able to rename a
// directory on the path could put their own in its place between the check
// and the exec. A refusal is logged with the unsafe file and why (an unsafe
// directory is also logged once at start); the next signal after the fix
// runs the trigger. ROOT itself is resolved once, at start, to an absolute
// path without symlinks, which triggers run from and get as HOIST_ROOT, so
// that a symlink swapped later cannot redirect them.
//
// A trigger runs as argv, never through a shell, in its own process group
// with a timeout; the whole group is killed when the timeout passes or when
// the shutdown grace period ends. Its output goes to the log line by line.
// Triggers and `hoist recover` get HOIST_LOG_FORMAT=json, so that hoist logs
// JSON without the maintainer's trigger asking for it, and a line that is a
// logrus JSON entry is logged as an entry of its own, at its level and with
// its fields, the trigger's fields winning on a clash
// (proc.Spec.StructuredOutput).
//
// # The signals directory
//
// ROOT/events/signals must be a real directory; a symlink there is never
// followed. When it is missing, not a directory or a symlink, at start or
// because it was moved, removed or replaced while watched, the supervisor
// stays up but serves no signal: it logs the reason once (error level),
// drops the runs waiting for the lost directory (their files stay where they
// are), and checks events/signals again every second until it is a real
// directory again, which is then watched and rescanned, so signals written
// meanwhile are served. While the directory is usable, the supervisor also
// watches its parent events/ and checks the name on every change there:
// inotify does not report every way of losing a watched directory (its
// removal ends the watch silently), and polling would wake an idle
// supervisor every second. Exiting instead would make systemd restart it
// in a loop without serving anything either.
//
// # Lifetime
//
// Run takes ROOT/.hoist/supervisor.lock (one supervisor per root), runs
// `hoist recover`, starts watching, rescans, and notifies systemd that it is
// ready (also while it waits for its signals directory). On cancellation it stops watching, lets running triggers finish
// within the grace period, then kills their process groups. Pending signals
// stay on disk for the next start.
package supervisor
