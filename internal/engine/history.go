package engine

import (
	"fmt"
	"io"
	"time"

	"github.com/hoist-dev/hoist/internal/history"
	"github.com/hoist-dev/hoist/internal/statusfile"
)

// The run history (package history): every transaction is one entry,
// whose id its begin record carries, so that the recover of a crashed run
// finishes that run's entry. The history only informs: failing to write
// it is logged and never fails a transaction.

// actions maps a transaction's operation to the history's action.
var actions = map[string]history.Action{
	opApply:    history.Apply,
	opRollback: history.Rollback,
	opRestore:  history.Recover,
}

// newRunID returns the history id for a transaction beginning now, or ""
// when the history cannot be read.
func (e *Engine) newRunID(now time.Time) string {
	id, err := e.history.NextID(now)
	if err != nil {
		e.log.WithError(err).Warn("history unreadable; this run is not recorded")
	}
	return id
}

// startRun records the transaction just begun as running and opens the
// file collecting its scripts' output.
func (t *txn) startRun() {
	t.run = t.entry()
	if t.run.ID == "" {
		return
	}
	t.e.warnHistory(t.e.history.Record(t.run))
	t.openRunLog()
}

// resumeRun prepares the history of a transaction found open by recover:
// a journal without a history id (an undo area found alone, or a journal
// older than the history) becomes a run of recover's own.
func (t *txn) resumeRun() {
	t.recovered = true
	t.run = t.entry()
	if t.run.ID == "" {
		t.run.ID, t.run.Action = t.e.newRunID(time.Now()), history.Recover
	}
	t.openRunLog()
}

func (t *txn) openRunLog() {
	if t.run.ID == "" {
		return
	}
	f, err := t.e.history.RunLog(t.run.ID)
	if err != nil {
		t.e.warnHistory(err)
		return
	}
	t.runLog = f
}

// scriptOutput returns where a script's output goes: its own log and the
// run's, which first gets a line naming the script.
func (t *txn) scriptOutput(log io.Writer, name, tg string) io.Writer {
	if t.runLog == nil {
		return log
	}
	fmt.Fprintf(t.runLog, "==> %s of %s\n", name, tg)
	return io.MultiWriter(log, t.runLog)
}

// finishRun records how the transaction ended and keeps its scripts'
// output.
func (t *txn) finishRun(state statusfile.State) {
	if t.run.ID == "" {
		return
	}
	t.closeRunLog()
	e := t.run
	e.Finished = time.Now().UTC()
	switch {
	case state == statusfile.Success:
		e.Result = history.Success
		if t.recovered {
			e.Reason = "interrupted after its last step; finished by recover"
		}
	case t.changed():
		e.Result = history.RolledBack
	default:
		e.Result = history.Failed
	}
	if e.Result != history.Success && t.fail != nil {
		e.Reason, e.Script = t.fail.Reason, t.fail.Script
		if t.fail.Interrupted {
			e.Reason = history.Interrupted
		}
	}
	t.e.warnHistory(t.e.history.KeepLog(e.ID))
	t.e.warnHistory(t.e.history.Record(e))
}

func (t *txn) closeRunLog() {
	if t.runLog != nil {
		t.e.warnHistory(t.runLog.Close())
		t.runLog = nil
	}
}

// entry is the history entry of the transaction, as begun.
func (t *txn) entry() history.Entry {
	return history.Entry{
		ID: t.begin.History, Action: actions[t.begin.Op],
		From: t.begin.From, To: t.begin.To, Started: t.begin.Time,
	}
}

func (e *Engine) warnHistory(err error) {
	if err != nil {
		e.log.WithError(err).Warn("could not write the run history")
	}
}
