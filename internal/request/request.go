// Package request is how the unprivileged side asks the root side for an
// update or a rollback, and follows what happens. The manager and `hoist
// update` both use it, so a request is made the same way whoever makes it.
//
// A request is two files and nothing else: the status file, set to
// installing / 0 / "Queued" / updateTo first, then a signal file in
// events/signals/ that wakes the supervisor. The order matters: when the
// supervisor runs `hoist apply`, updateTo is already there.
//
// The signal is written with safefs.WriteFile: an empty temp file named
// ".hoist-tmp-…" (a dot file, which the supervisor ignores) is fsynced and
// renamed to the signal's name, and the directory fsynced. The supervisor
// sees one "moved in" event for a complete file, and a request made just
// before a power cut is still there for the supervisor's rescan at boot.
//
// The read-check-write of the status is made under an flock on the statuses/
// directory, so two requests (manager and CLI, or two browser tabs) cannot
// both see "not installing" and both queue an update. The wait for that lock
// is bounded (LockWait) and ends with ctx: the manager can take it too, and
// a compromised manager could hold it forever.
package request

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/safefs"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/tag"
)

// ErrInProgress means an update is already queued or running. It matches
// exitcode.ErrLocked, so the CLI exits 3.
var ErrInProgress = fmt.Errorf("an update is %w", exitcode.ErrLocked)

// Signal names (CONTRACT §6: triggers/update and triggers/rollback).
const (
	SignalUpdate   = "update"
	SignalRollback = "rollback"
)

// Queued is the description of a requested update nobody has started yet.
const Queued = "Queued"

// Dirs are the two directories a request writes to.
type Dirs struct {
	Statuses *os.Root // ROOT/statuses
	Signals  *os.Root // ROOT/events/signals
}

// OpenDirs opens the request directories of the app root dir.
func OpenDirs(dir string) (Dirs, error) {
	st, err := os.OpenRoot(filepath.Join(dir, approot.StatusesDir))
	if err != nil {
		return Dirs{}, fmt.Errorf("open statuses directory: %w", err)
	}
	sig, err := os.OpenRoot(filepath.Join(dir, approot.SignalsDir))
	if err != nil {
		st.Close()
		return Dirs{}, fmt.Errorf("open signals directory: %w", err)
	}
	return Dirs{Statuses: st, Signals: sig}, nil
}

// Close closes both directories.
func (d Dirs) Close() {
	d.Statuses.Close()
	d.Signals.Close()
}

// LockWait bounds the wait for the statuses/ lock, which a request holds
// for a read and two small writes.
const LockWait = 5 * time.Second

// lockPoll is how often a busy lock is tried again.
const lockPoll = 20 * time.Millisecond

// ErrStatusesLocked means another process held the statuses/ lock for all
// of LockWait. It matches exitcode.ErrLocked, so the CLI exits 3.
var ErrStatusesLocked error = statusesLocked{}

type statusesLocked struct{}

func (statusesLocked) Error() string {
	return fmt.Sprintf("another process (the manager?) has held the lock on statuses/ for over %s; try again later", LockWait)
}

func (statusesLocked) Unwrap() error { return exitcode.ErrLocked }

// Update requests the update to release tag t: it refuses a bad tag and an
// update in progress, writes the queued status, then the update signal.
func Update(ctx context.Context, d Dirs, t string) error {
	if _, err := tag.Parse(t); err != nil {
		return err
	}
	return whenIdle(ctx, d, func() error {
		q := statusfile.Status{State: statusfile.Installing, Progress: 0, Description: Queued, UpdateTo: t}
		if err := statusfile.Write(d.Statuses, q); err != nil {
			return err
		}
		return signal(d, SignalUpdate)
	})
}

// Rollback requests putting back the newest backup. It is refused while an
// update is in progress (the engine's lock would refuse it anyway).
func Rollback(ctx context.Context, d Dirs) error {
	return whenIdle(ctx, d, func() error { return signal(d, SignalRollback) })
}

// whenIdle runs fn under the statuses/ lock if no update is in progress.
func whenIdle(ctx context.Context, d Dirs, fn func() error) error {
	dir, err := d.Statuses.Open(".")
	if err != nil {
		return fmt.Errorf("lock statuses directory: %w", err)
	}
	defer dir.Close() // also releases the lock
	if err := lock(ctx, dir); err != nil {
		return err
	}
	if err := Busy(d); err != nil {
		return err
	}
	return fn()
}

// lock takes an exclusive flock on dir, trying again until LockWait has
// passed or ctx is done.
func lock(ctx context.Context, dir *os.File) error {
	deadline := time.NewTimer(LockWait)
	defer deadline.Stop()
	retry := time.NewTicker(lockPoll)
	defer retry.Stop()
	for {
		err := syscall.Flock(int(dir.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			if err != nil {
				return fmt.Errorf("lock statuses directory: %w", err)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lock statuses directory: %w", ctx.Err())
		case <-deadline.C:
			return ErrStatusesLocked
		case <-retry.C:
		}
	}
}

// Busy returns ErrInProgress when the status says an update is in progress.
func Busy(d Dirs) error {
	cur, err := statusfile.Read(d.Statuses)
	if err != nil {
		return err
	}
	if cur.State != statusfile.Installing {
		return nil
	}
	if cur.UpdateTo == "" {
		return ErrInProgress
	}
	return fmt.Errorf("%w (%s)", ErrInProgress, cur.UpdateTo)
}

func signal(d Dirs, name string) error {
	if err := safefs.WriteFile(d.Signals, name, nil, 0o644); err != nil {
		return fmt.Errorf("write %s signal: %w", name, err)
	}
	return nil
}
