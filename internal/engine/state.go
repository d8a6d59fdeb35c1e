package engine

import (
	"encoding/json"
	"slices"
)

// phase is how far a transaction got: the position of a step in the order
// an apply journals them, the undo steps last. Every journal the engine
// writes moves forward through the phases: a rollback skips the ones it has
// no use for, and a recover of a recover may journal restart twice.
type phase int

const (
	phaseBegin phase = iota
	phaseFetched
	phaseVerified
	phaseScript00
	phaseScript00Done
	phaseBackup
	phaseBackedUp
	phaseInstall
	phaseInstalled
	phaseScript01
	phaseScript01Done
	phaseScript02
	phaseScript02Done
	phaseScript03
	phaseScript03Done
	phaseCommit
	phaseUndo
	phaseRestored
	phaseRestart
	phaseDone
)

// stepNames names the step of each phase.
var stepNames = [...]Step{
	phaseBegin: StepBegin, phaseFetched: StepFetched, phaseVerified: StepVerified,
	phaseScript00: "script-00", phaseScript00Done: "script-00-done",
	phaseBackup: StepBackup, phaseBackedUp: StepBackedUp, phaseInstall: StepInstall, phaseInstalled: StepInstalled,
	phaseScript01: "script-01", phaseScript01Done: "script-01-done",
	phaseScript02: "script-02", phaseScript02Done: "script-02-done",
	phaseScript03: "script-03", phaseScript03Done: "script-03-done",
	phaseCommit: StepCommit, phaseUndo: StepUndo, phaseRestored: StepRestored, phaseRestart: StepRestart, phaseDone: StepDone,
}

// scriptPhases are the phases journaled before and after update script n.
var scriptPhases = [4][2]phase{
	{phaseScript00, phaseScript00Done},
	{phaseScript01, phaseScript01Done},
	{phaseScript02, phaseScript02Done},
	{phaseScript03, phaseScript03Done},
}

// rule is what an operation's phases mean for recovery (doc.go, Steps).
type rule struct {
	changes phase // journaled, the live root may differ from before
	scripts phase // journaled, a script may have stopped services
	final   phase // journaled, every step provably succeeded
}

var rules = map[string]rule{
	opApply:    {changes: phaseInstall, scripts: phaseScript00, final: phaseScript03Done},
	opRollback: {changes: phaseInstall, scripts: phaseScript01, final: phaseScript01Done},
	// An undo area found without a journal: the worst it allows, from
	// begin on. It is only ever undone, so no forward phase is final.
	opRestore: {changes: phaseBegin, scripts: phaseBegin, final: phaseDone},
}

// state is what a journal says about its transaction. replay computes it
// from the records; an open transaction keeps it up to date as it
// journals, with the same note.
type state struct {
	records int      // records noted; none means no transaction
	begin   record   // op, versions, staging clone or kept backup
	at      phase    // the last step journaled
	reached phase    // the last step journaled before any undo
	fail    *failure // why it is undone, from the undo record
	index   string   // sha256 of the undo area's index, from backed-up
}

// replay returns the state the journal's records describe and how many of
// them it used. A record that does not decode, or that no transaction
// could have written there (begin anywhere but first, an unknown step or
// operation), ends the replay: the CRC matched, so it is not a torn write,
// and the records before it still hold (undoing is safe from any prefix).
func replay(payloads [][]byte) (s state, used int) {
	for _, p := range payloads {
		var r record
		if json.Unmarshal(p, &r) != nil || !s.fits(r) {
			break
		}
		s.note(r)
	}
	return s, s.records
}

// fits reports whether r can follow the records noted so far.
func (s *state) fits(r record) bool {
	p, ok := phaseOf(r.Step)
	if s.records == 0 {
		_, known := rules[r.Op]
		return p == phaseBegin && known
	}
	return ok && p != phaseBegin
}

// note adds r, a record that fits, to the state.
func (s *state) note(r record) {
	p, _ := phaseOf(r.Step)
	if p == phaseBegin {
		s.begin = r
	}
	if p <= phaseCommit {
		s.reached = p
	}
	if r.Failure != nil {
		s.fail = r.Failure
	}
	if r.Index != "" {
		s.index = r.Index
	}
	s.at = p
	s.records++
}

func phaseOf(s Step) (phase, bool) {
	i := slices.Index(stepNames[:], s)
	return phase(i), i >= 0
}

func (s *state) rule() rule { return rules[s.begin.Op] }

// last is the step last journaled, for messages.
func (s *state) last() Step { return stepNames[s.at] }

// open reports whether the transaction still needs settling: it began and
// did not journal done.
func (s *state) open() bool { return s.records > 0 && s.at != phaseDone }

// undoing reports whether the undo began.
func (s *state) undoing() bool { return s.at >= phaseUndo }

// complete reports whether every step provably succeeded and no undo
// began: recovery finishes such a transaction instead of undoing it.
func (s *state) complete() bool { return !s.undoing() && s.reached >= s.rule().final }

// changed reports whether the live root may differ from before the
// transaction: undoing it restores the undo area.
func (s *state) changed() bool { return s.reached >= s.rule().changes }

// needsRestore reports whether an undo still has to restore the undo area.
func (s *state) needsRestore() bool { return s.changed() && s.at < phaseRestored }

// needsRestart reports whether an undo has to re-run the restored
// release's 01-run.sh: a script may have stopped its services. A restart a
// crash cut short runs again.
func (s *state) needsRestart() bool { return s.begin.From != "" && s.reached >= s.rule().scripts }
