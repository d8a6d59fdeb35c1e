package engine

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/hoist-dev/hoist/internal/history"
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

// Steps lists every step in order, for tests that crash the engine at each
// one.
var Steps = slices.Clone(stepNames[:])

// The operations a transaction performs.
const (
	opApply    = "apply"
	opRollback = "rollback"
	// opRestore restores an undo area found without a usable journal.
	opRestore = "restore"
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
	History string `json:"history,omitempty"` // the run's id in the history
	// backed-up
	Index string `json:"index,omitempty"` // sha256 of the undo area's index
	// undo
	Failure *failure `json:"failure,omitempty"`
}

// txn is an open transaction: its journal and the state it journaled.
type txn struct {
	state
	e  *Engine
	j  *journal.Journal
	st *reporter
	// run is the transaction's entry in the run history (ID "": not
	// recorded); runLog collects its scripts' output (history.go).
	run       history.Entry
	runLog    *os.File
	recovered bool // opened by recover, not begun by this process
	// held are the records logSoon held back, encoded: they go to disk
	// with the next record, in one write and one fdatasync.
	held [][]byte
	// listed returns the manifest of the release whose update scripts the
	// forward steps run, once they have it parsed; nil: each script's
	// tree manifest is read and parsed again (11–14 ms for 2,000 files).
	listed manifestOf
}

// beginTxn creates a new journal whose first record is begin.
func (e *Engine) beginTxn(begin record, st *reporter) (*txn, error) {
	begin.Step = StepBegin
	begin.History = e.newRunID(time.Now())
	begin, data, err := stamp(begin)
	if err != nil {
		return nil, err
	}
	j, err := journal.Create(e.root, journalFile, data)
	if err != nil {
		return nil, err
	}
	t := &txn{e: e, j: j, st: st}
	t.noted(begin)
	t.startRun()
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
	s, used := replay(payloads)
	if used < len(payloads) {
		e.log.Warnf("journal: record %d is unreadable; using the %d before it", used+1, used)
	}
	if !s.open() {
		j.Close()
		return nil, nil
	}
	t := &txn{state: s, e: e, j: j, st: st}
	t.resumeRun()
	return t, nil
}

// log journals r, after the records logSoon held back, and, with the test
// hook set to r.Step, dies right after.
func (t *txn) log(r record) error {
	r, data, err := stamp(r)
	if err != nil {
		return err
	}
	if err := t.j.Append(append(t.held, data)...); err != nil {
		return err
	}
	t.held = nil
	t.noted(r)
	return nil
}

// logSoon notes r, a record saying that work is done, and holds it back
// until the next record, which the following step journals before it does
// anything: one fdatasync for both. A crash in between leaves the journal
// one record short, as a crash just before r would have (doc.go). With the
// test hook set to r.Step, r goes to disk at once, for the hook to die
// after it.
func (t *txn) logSoon(r record) error {
	if t.e.crashAt == r.Step {
		return t.log(r)
	}
	r, data, err := stamp(r)
	if err != nil {
		return err
	}
	t.held = append(t.held, data)
	t.noted(r)
	return nil
}

// stamp dates r and encodes it.
func stamp(r record) (record, []byte, error) {
	r.Time = time.Now().UTC()
	data, err := json.Marshal(r)
	return r, data, err
}

// noted adds r, just journaled or held, to the state, and, with the test
// hook set to r.Step, dies.
func (t *txn) noted(r record) {
	t.note(r)
	t.e.log.WithField("step", r.Step).Debug("journaled")
	if t.e.crashAt != "" && t.e.crashAt == r.Step {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}

// step journals the step of phase p.
func (t *txn) step(p phase) error { return t.log(record{Step: stepNames[p]}) }

// done journals the step of phase p, which says that work is done, held
// back for the next step's record (logSoon), except the operation's final
// step: that one proves the transaction complete, so recover finishes it
// even if the commit record cannot be written.
func (t *txn) done(p phase) error {
	if p == t.rule().final {
		return t.step(p)
	}
	return t.logSoon(record{Step: stepNames[p]})
}

func (t *txn) close() {
	t.closeRunLog()
	t.j.Close()
}

// desc names the transaction for messages: "update to v1.1.0".
func (t *txn) desc() string {
	if t.begin.Op == opRollback {
		return "rollback to v" + t.begin.To
	}
	return "update to v" + t.begin.To
}
