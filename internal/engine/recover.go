package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/backup"
	"github.com/hoist-dev/hoist/internal/clip"
	"github.com/hoist-dev/hoist/internal/lock"
	"github.com/hoist-dev/hoist/internal/objcache"
	"github.com/hoist-dev/hoist/internal/safefs"
	"github.com/hoist-dev/hoist/internal/statusfile"
)

// Recover finishes or undoes a transaction that a crash left open, so the
// root holds exactly the old release or exactly the new one, and clears a
// status stuck at installing when no update runs. It returns what it did
// ("" if nothing was needed). Running it again, or after it was killed
// itself, is safe.
func (e *Engine) Recover(ctx context.Context) (string, error) {
	l, err := e.lock()
	if err != nil {
		return "", err
	}
	defer l.Release()
	msg, err := e.recoverOpen(ctx)
	if err != nil || msg != "" {
		return msg, err
	}
	st, err := statusfile.Read(e.statuses)
	if err != nil || st.State != statusfile.Installing || e.updateQueued() {
		return "", nil
	}
	live, _ := e.installed()
	desc := "interrupted: no update is running; " + stillInstalled(live.version)
	if st.UpdateTo != "" {
		desc = "update to " + clip.String(st.UpdateTo) + " was interrupted before it started; " + stillInstalled(live.version)
	}
	r := e.newReporter(st.UpdateTo)
	r.cur.Progress = st.Progress
	r.finish(statusfile.Failed, desc)
	return desc, nil
}

// updateQueued reports whether an update signal waits in events/signals/:
// then "installing" means queued, and the supervisor runs the update after
// this recover, so the status must stay as the manager wrote it.
func (e *Engine) updateQueued() bool {
	fi, err := e.root.Lstat(path.Join(approot.SignalsDir, "update"))
	return err == nil && fi.Mode().IsRegular()
}

// lockSettled takes the lock and settles a transaction a crash left open,
// so that a new one starts from exactly one release.
func (e *Engine) lockSettled(ctx context.Context) (*lock.Lock, error) {
	l, err := e.lock()
	if err != nil {
		return nil, err
	}
	if _, err := e.recoverOpen(ctx); err != nil {
		l.Release()
		return nil, fmt.Errorf("recover the interrupted update first: %w", err)
	}
	return l, nil
}

// recoverOpen settles the open transaction, if any; the caller holds the
// lock. A transaction whose final step is journaled is finished; any other
// is undone.
func (e *Engine) recoverOpen(ctx context.Context) (string, error) {
	// Temp files of writes a crash cut short: the journal's, the reports',
	// the status file's and its companions' (a manager's request in flight
	// may lose its temp file too; it then fails and can be repeated), and
	// the object cache's.
	for _, dir := range []string{approot.StateDir, approot.LogsDir, approot.StatusesDir} {
		if err := safefs.Sweep(e.root, dir); err != nil {
			return "", err
		}
	}
	if err := objcache.Sweep(e.root, approot.CacheDir); err != nil {
		return "", err
	}
	if err := e.emptyTrash(); err != nil {
		return "", err
	}
	cur := e.current()
	st := e.newReporter(cur.UpdateTo)
	st.cur.Progress = cur.Progress
	t, err := e.openTxn(st)
	if errors.Is(err, errNoJournal) {
		t, err = e.orphanedUndo(st)
	}
	if err != nil || t == nil {
		return "", err
	}
	defer t.close()
	e.log.WithField("last_step", t.last()).Warn("found an interrupted " + t.desc())
	if t.complete() {
		return t.commit(t.desc() + " was interrupted after its last step and finished by recover")
	}
	if !t.undoing() {
		f := &failure{Step: t.last(), Reason: t.desc() + " was interrupted"}
		if err := t.log(record{Step: StepUndo, Failure: f}); err != nil {
			return "", err
		}
	}
	outcome, err := t.undoReported(ctx)
	if err != nil {
		return "", fmt.Errorf("%s; and undoing it failed: %w", t.fail.Reason, err)
	}
	return t.fail.Reason + "; " + outcome, nil
}

// orphanedUndo handles an undo area without a usable journal (deleted, or
// damaged beyond its header). An undo area with an index is complete, and
// the live root may have been changed: it is restored under a new journal
// whose begin says just that (opRestore), so that a crash while restoring
// leaves a journal that restores again. One without an index was cut
// short before anything changed: it goes.
func (e *Engine) orphanedUndo(st *reporter) (*txn, error) {
	idx, err := backup.Load(e.root, undoDir, "")
	if err != nil {
		if _, statErr := e.root.Lstat(undoDir); errors.Is(statErr, fs.ErrNotExist) {
			return nil, nil
		}
		e.log.WithError(err).Warn("removing an incomplete undo area")
		return nil, e.root.RemoveAll(undoDir)
	}
	e.log.Warn("the journal is missing or damaged but an undo area exists: restoring it")
	return e.beginTxn(record{Op: opRestore, From: idx.Version, To: idx.To}, st)
}

// errNoJournal means there is no journal, or none that can be read.
var errNoJournal = errors.New("no journal")
