package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"

	"github.com/hoist-dev/hoist/internal/journal"
)

// Step names a journal record. Each is appended (and on disk) before the
// work it announces starts, or after the work it reports is done.
type Step string

// The steps of a transaction, in the order an apply journals them. A
// rollback journals begin, backup … installed, script-01, script-01-done,
// commit, done. A failure journals undo, restored, restart (when scripts
// may have stopped services), done.
const (
	StepBegin     Step = "begin"     // before anything: op, from, to, staging
	StepFetched   Step = "fetched"   // the staging clone exists
	StepVerified  Step = "verified"  // signature, tree, version, requires checked
	StepBackup    Step = "backup"    // before saving the paths to change in the undo area
	StepBackedUp  Step = "backed-up" // the undo area is complete (index sha256 recorded)
	StepInstall   Step = "install"   // before the first change to the live root
	StepInstalled Step = "installed" // every path of the new release is in place
	StepCommit    Step = "commit"    // every step succeeded: the new release stays
	StepUndo      Step = "undo"      // before restoring the undo area (reason recorded)
	StepRestored  Step = "restored"  // the root is back to its state before the transaction
	StepRestart   Step = "restart"   // before re-running the restored release's 01-run.sh
	StepDone      Step = "done"      // status, reports and cleanup written: the journal is closed
)

// scriptStep returns the steps journaled before and after update script
// number n (0–3): script-0n and script-0n-done.
func scriptStep(n int) (before, after Step) {
	s := Step(fmt.Sprintf("script-%02d", n))
	return s, s + "-done"
}

// Steps lists every step, for tests that crash the engine at each one.
var Steps = func() []Step {
	s0, s0done := scriptStep(0)
	steps := []Step{StepBegin, StepFetched, StepVerified, s0, s0done, StepBackup, StepBackedUp, StepInstall, StepInstalled}
	for n := 1; n <= 3; n++ {
		before, after := scriptStep(n)
		steps = append(steps, before, after)
	}
	return append(steps, StepCommit, StepUndo, StepRestored, StepRestart, StepDone)
}()

// The operations a transaction performs.
const (
	opApply    = "apply"
	opRollback = "rollback"
)

// record is one journal entry. Fields other than Step are set on the
// records that need them.
type record struct {
	Step Step      `json:"step"`
	Time time.Time `json:"time"`
	// begin
	Op      string `json:"op,omitempty"`
	From    string `json:"from,omitempty"`    // installed version, "" on a fresh root
	To      string `json:"to,omitempty"`      // version being installed
	Staging string `json:"staging,omitempty"` // apply: the staging clone
	Backup  string `json:"backup,omitempty"`  // rollback: the kept backup restored
	// backed-up
	Index string `json:"index,omitempty"` // sha256 of the undo area's index
	// undo
	Failure *failure `json:"failure,omitempty"`
}

// txn is an open transaction: its journal and what it has journaled.
type txn struct {
	e     *Engine
	j     *journal.Journal
	begin record
	done  map[Step]bool
	last  Step
	fail  *failure // set once undo is journaled
	index string   // sha256 of the undo area's index, from backed-up
	st    *reporter
}

// beginTxn creates a new journal whose first record is begin.
func (e *Engine) beginTxn(begin record, st *reporter) (*txn, error) {
	j, err := journal.Create(e.root, journalFile)
	if err != nil {
		return nil, err
	}
	t := &txn{e: e, j: j, done: map[Step]bool{}, st: st}
	begin.Step = StepBegin
	if err := t.log(begin); err != nil {
		j.Close()
		return nil, err
	}
	return t, nil
}

// openTxn replays the journal. It returns nil when the journal's last
// transaction is closed (ends in done), errNoJournal when there is no
// readable journal.
func (e *Engine) openTxn(st *reporter) (*txn, error) {
	j, payloads, err := journal.Open(e.root, journalFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoJournal
	}
	if errors.Is(err, journal.ErrNotJournal) {
		e.log.WithError(err).Warn("journal damaged")
		return nil, errNoJournal
	}
	if err != nil {
		return nil, err
	}
	if j.Truncated > 0 {
		e.log.Warnf("journal: cut off a torn last record (%d bytes)", j.Truncated)
	}
	t := &txn{e: e, j: j, done: map[Step]bool{}, st: st}
	for i, p := range payloads {
		var r record
		if err := json.Unmarshal(p, &r); err != nil || (i == 0) != (r.Step == StepBegin) {
			// The CRC matched, so this is not a torn write; the records
			// before it still hold, and undoing is safe from any prefix.
			e.log.Warnf("journal: record %d is unreadable; using the %d before it", i+1, i)
			break
		}
		t.note(r)
	}
	if len(t.done) == 0 || t.done[StepDone] {
		j.Close()
		return nil, nil
	}
	return t, nil
}

func (t *txn) note(r record) {
	if r.Step == StepBegin {
		t.begin = r
	}
	if r.Failure != nil {
		t.fail = r.Failure
	}
	if r.Index != "" {
		t.index = r.Index
	}
	t.done[r.Step] = true
	t.last = r.Step
}

// log journals r and, with the test hook set to r.Step, dies right after.
func (t *txn) log(r record) error {
	r.Time = time.Now().UTC()
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := t.j.Append(data); err != nil {
		return err
	}
	t.note(r)
	t.e.log.WithField("step", r.Step).Debug("journaled")
	if t.e.crashAt != "" && t.e.crashAt == r.Step {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
	return nil
}

func (t *txn) step(s Step) error { return t.log(record{Step: s}) }

func (t *txn) close() { t.j.Close() }

// desc names the transaction for messages: "update to v1.1.0".
func (t *txn) desc() string {
	if t.begin.Op == opRollback {
		return "rollback to v" + t.begin.To
	}
	return "update to v" + t.begin.To
}

// finalStep is the last step before commit: journaled, it proves every
// step of the transaction succeeded.
func (t *txn) finalStep() Step {
	n := 3
	if t.begin.Op == opRollback {
		n = 1
	}
	_, after := scriptStep(n)
	return after
}
