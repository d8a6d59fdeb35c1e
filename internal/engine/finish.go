package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/backup"
	"github.com/hoist-dev/hoist/internal/proc"
	"github.com/hoist-dev/hoist/internal/safefs"
	"github.com/hoist-dev/hoist/internal/statusfile"
)

// failure is why a transaction was undone, as journaled in its undo record.
type failure struct {
	Step       Step   `json:"step"`             // the last step journaled before it failed
	Reason     string `json:"reason"`           // one line, for the status file
	Script     string `json:"script,omitempty"` // the script that failed
	ExitStatus *int   `json:"exit_status,omitempty"`
	Log        string `json:"log,omitempty"` // that script's log
	// Interrupted: recover undoes a transaction a crash cut short.
	Interrupted bool `json:"interrupted,omitempty"`
}

func failureOf(last Step, cause error) *failure {
	f := &failure{Step: last, Reason: cause.Error()}
	var sf *scriptFailure
	if errors.As(cause, &sf) {
		f.Log = sf.log
	}
	var se *proc.Error
	if errors.As(cause, &se) {
		f.Script = se.Name
		if se.ExitStatus >= 0 {
			f.ExitStatus = &se.ExitStatus
		}
	}
	return f
}

// commit journals commit and finishes the transaction: the undo area
// becomes a kept backup (apply) or goes (rollback), staging and old
// backups are removed, the status says success. Every part is idempotent,
// so recover can run it again after a crash. note, if set, says why the
// commit happens late.
func (t *txn) commit(note string) (string, error) {
	e := t.e
	if t.reached < phaseCommit {
		if err := t.step(phaseCommit); err != nil {
			return "", err // the journal still proves completion: recover finishes it
		}
	}
	var errs []error
	desc := "Rolled back to v" + t.begin.To
	switch t.begin.Op {
	case opApply:
		desc = "Updated to v" + t.begin.To
		if t.begin.From == "" {
			desc = "Installed v" + t.begin.To
			errs = append(errs, e.discard(undoDir))
		} else {
			errs = append(errs, backup.Keep(e.root, undoDir, approot.BackupsDir, t.begin.From))
		}
		errs = append(errs,
			e.adoptTrust(),
			backup.Prune(e.root, approot.BackupsDir, e.cfg.KeepBackups, e.discard),
			e.removeClones(""),
			e.removeReports())
	case opRollback:
		errs = append(errs, e.discard(t.begin.Backup), e.discard(undoDir))
	}
	errs = append(errs, e.publishLive(), e.publishRollback(t.noteOutcome(true)))
	if note != "" {
		desc = note + "; " + strings.ToLower(desc[:1]) + desc[1:]
	}
	return desc, t.settle(statusfile.Success, desc, errs)
}

// abort undoes the transaction that cause stopped and returns cause
// extended with the outcome ("…; restored v1.0.0").
func (t *txn) abort(ctx context.Context, cause error) error {
	t.e.log.WithError(cause).Error(t.desc() + " failed")
	f := failureOf(t.last(), cause)
	if err := t.log(record{Step: StepUndo, Failure: f}); err != nil {
		// Undoing is safe without the record; only its reason would be
		// lost to a crash.
		t.e.log.WithError(err).Error("could not journal the undo; undoing anyway")
		t.fail = f
	}
	outcome, err := t.undoReported(context.WithoutCancel(ctx))
	if err != nil {
		return fmt.Errorf("%w; and undoing it failed: %v", cause, err)
	}
	return fmt.Errorf("%w; %s", cause, outcome)
}

// undoReported is undo that, when it fails, says so in the status. The
// journal stays open then, so recover tries again.
func (t *txn) undoReported(ctx context.Context) (string, error) {
	outcome, err := t.undo(ctx)
	if err != nil {
		t.st.finish(statusfile.Failed, t.fail.Reason+"; and undoing it failed: "+err.Error())
	}
	return outcome, err
}

// undo puts the root back as it was before the transaction, brings the
// restored release's services back with its 01-run.sh, writes the failure
// status and report, and closes the journal. It resumes where a crash
// stopped an earlier undo.
func (t *txn) undo(ctx context.Context) (string, error) {
	if t.needsRestore() {
		if t.begin.From == "" {
			t.st.describe("Removing the partial install")
		} else {
			t.st.describe("Restoring v" + t.begin.From)
		}
		if err := t.restore(ctx); err != nil {
			return "", fmt.Errorf("restore the previous state: %w", err)
		}
	}
	if t.at < phaseRestored {
		if err := t.step(phaseRestored); err != nil {
			return "", err
		}
	}
	outcome := t.outcome()
	if t.needsRestart() {
		if err := t.step(phaseRestart); err != nil {
			return "", err
		}
		tg := "v" + t.begin.From
		if err := t.runScript(ctx, 1, "", nil, tg, t.begin.To, "", t.st.still()); err != nil {
			outcome += ", but its " + err.Error()
		}
	}
	return outcome, t.finishAbort(outcome)
}

func (t *txn) restore(ctx context.Context) error {
	idx, err := backup.Load(t.e.root, undoDir, t.index)
	if err != nil {
		return err
	}
	return backup.Restore(ctx, t.e.root, undoDir, idx, false, nil)
}

// outcome says in words what the root holds after the undo.
func (t *txn) outcome() string {
	switch {
	case t.begin.From == "" && t.changed():
		return "removed the partial install of v" + t.begin.To
	case t.begin.From == "":
		return "nothing was installed"
	case t.changed():
		return "restored v" + t.begin.From
	}
	return "v" + t.begin.From + " is still installed"
}

// finishAbort cleans up after an undo and reports the failure.
func (t *txn) finishAbort(outcome string) error {
	e := t.e
	// After a script failed, the verified clone is kept so that trying
	// again (the fault was likely the machine's) does not download it
	// again; otherwise it is junk or takes space a full disk needs.
	keep := ""
	if t.fail.Script != "" {
		keep = t.begin.Staging
	}
	errs := []error{e.discard(undoDir), e.removeClones(keep), t.writeReport(outcome), e.publishLive(),
		e.publishRollback(t.noteOutcome(false))}
	return t.settle(statusfile.Failed, t.fail.Reason+"; "+outcome, errs)
}

// settle ends the transaction once its cleanup (errs) has moved what goes
// into the trash: it writes the final status, makes the moves durable,
// empties the trash and journals done. The root is final either way; if
// any of the cleanup failed, the journal stays open so that the next
// recover finishes it. The syncfs comes before the unlinks, not after:
// a power cut must not bring back an undo area the journal calls
// finished, but a trash brought back is harmless (every recover empties
// it), and flushing a few renames is cheap where thousands of unlinks
// are not.
func (t *txn) settle(state statusfile.State, desc string, errs []error) error {
	t.finishRun(state) // before the status: whoever it wakes finds the entry
	t.st.finish(state, desc)
	if err := errors.Join(errs...); err != nil {
		// The trash still goes: on a full disk, its room is what the
		// next recover needs.
		err = errors.Join(err, t.e.emptyTrash())
		t.e.log.WithError(err).Warn("cleanup after the " + t.desc() + " is incomplete; recover finishes it")
		return nil
	}
	if err := safefs.SyncFS(t.e.root); err != nil {
		return err
	}
	// Before done: on a full disk, the room it frees lets done be written.
	if err := t.e.emptyTrash(); err != nil {
		t.e.log.WithError(err).Warn("could not empty the trash; the next run empties it")
	}
	return t.step(phaseDone)
}

// discard moves the tree p (relative to the root) into the trash, or
// removes it where a rename cannot (p on another filesystem than .hoist/,
// or no room for the trash directory on a full disk). A missing p is
// not an error: an earlier run discarded it.
func (e *Engine) discard(p string) error {
	// A random suffix: the trash may still hold a tree of the same name
	// from a run that could not empty it.
	trashed := path.Join(trashDir, path.Base(p)+"."+rand.Text())
	if e.root.MkdirAll(trashDir, 0o700) == nil && e.root.Rename(p, trashed) == nil {
		return nil
	}
	return e.root.RemoveAll(p)
}

// emptyTrash deletes what discard moved into the trash, by this or an
// earlier run.
func (e *Engine) emptyTrash() error { return e.root.RemoveAll(trashDir) }

// removeClones removes every staging clone but keep, with the temp dirs of
// clones cut short: the one just installed, ones kept for a retry by
// earlier failures, and whatever a crash left.
func (e *Engine) removeClones(keep string) error {
	d, err := e.root.Open(".")
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		clone := strings.HasPrefix(strings.TrimPrefix(name, safefs.TempPrefix), approot.StagingPrefix)
		if clone && name != keep {
			errs = append(errs, e.discard(name))
		}
	}
	return errors.Join(errs...)
}
