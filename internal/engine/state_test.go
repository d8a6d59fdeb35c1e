package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
)

// journalCase is one journal the engine can write: its begin record and the
// steps after it.
type journalCase struct {
	name  string
	begin record
	steps []Step
}

// engineJournals returns every kind of journal the engine writes: apply
// and rollback succeeding, failing after each of their steps (the undo a
// failure or a recover journals), a recover killed during its own undo and
// run again, and the restore of an undo area found without a journal.
func engineJournals() []journalCase {
	apply := stepNames[phaseFetched : phaseCommit+1]
	rollback := []Step{StepBackup, StepBackedUp, StepInstall, StepInstalled, "script-01", "script-01-done", StepCommit}
	var js []journalCase
	for _, c := range []struct {
		name  string
		begin record
		steps []Step
	}{
		{"apply", record{Op: opApply, From: "1.0.0", To: "1.1.0"}, apply},
		{"first install", record{Op: opApply, To: "1.0.0"}, apply},
		{"rollback", record{Op: opRollback, From: "1.1.0", To: "1.0.0"}, rollback},
	} {
		js = append(js, journalCase{c.name, c.begin, append(slices.Clone(c.steps), StepDone)})
		// Failing after each step but the final one (then commit failing
		// to journal leaves the transaction for recover to finish). A
		// crash there and recover journal the same undo.
		for i := 0; i <= len(c.steps)-2; i++ {
			ran := c.steps[:i]
			undo := append(slices.Clone(ran), StepUndo, StepRestored)
			if c.begin.From != "" && (slices.Contains(ran, "script-00") || slices.Contains(ran, "script-01")) {
				undo = append(undo, StepRestart)
			}
			js = append(js, journalCase{fmt.Sprintf("%s failing after %s", c.name, append([]Step{StepBegin}, ran...)[i]),
				c.begin, append(undo, StepDone)})
		}
	}
	applied := record{Op: opApply, From: "1.0.0", To: "1.1.0"}
	return append(js,
		journalCase{"recover of a recover killed in restart", applied,
			[]Step{StepFetched, StepVerified, "script-00", "script-00-done", StepBackup, StepBackedUp, StepInstall,
				StepUndo, StepRestored, StepRestart, StepRestart, StepDone}},
		journalCase{"restore without a journal", record{Op: opRestore, From: "1.0.0", To: "1.1.0"},
			[]Step{StepUndo, StepRestored, StepRestart, StepDone}},
		journalCase{"restore of a first install without a journal", record{Op: opRestore, To: "1.0.0"},
			[]Step{StepUndo, StepRestored, StepDone}},
	)
}

// payloads encodes the journal's records as the engine writes them.
func (j journalCase) payloads(t *testing.T) [][]byte {
	t.Helper()
	recs := []record{j.begin}
	recs[0].Step = StepBegin
	for i, s := range j.steps {
		r := record{Step: s}
		switch s {
		case StepBackedUp:
			r.Index = "ab12"
		case StepUndo:
			r.Failure = &failure{Step: append([]Step{StepBegin}, j.steps...)[i], Reason: "it failed"}
		}
		recs = append(recs, r)
	}
	var ps [][]byte
	for _, r := range recs {
		p, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return ps
}

// documented is the recovery decision for a journal holding steps after
// begin, as doc.go words it, written from the step names alone.
func documented(begin record, steps []Step) string {
	// "A transaction that ends in done is closed."
	if len(steps) > 0 && steps[len(steps)-1] == StepDone {
		return "nothing"
	}
	has := func(s Step) bool { return s == StepBegin || slices.Contains(steps, s) }
	final := Step("script-03-done")
	if begin.Op == opRollback {
		final = "script-01-done"
	}
	// "One whose undo began continues the undo. One that journaled
	// commit, or its final step (script-03-done; script-01-done for a
	// rollback), provably completed every step and is finished."
	if !has(StepUndo) && (has(StepCommit) || has(final)) {
		return "finish"
	}
	// "Anything else is undone: restore the undo area (if install was
	// journaled), re-run the old 01-run.sh (if script-00 or script-01 was
	// journaled)." An undo area found without a journal may have changed
	// the root and stopped services: its restore assumes both.
	orphan := begin.Op == opRestore
	d := "undo"
	if (has(StepInstall) || orphan) && !has(StepRestored) {
		d += "+restore"
	}
	if begin.From != "" && (has("script-00") || has("script-01") || orphan) {
		d += "+restart"
	}
	return d
}

// decision is what recovery does with the replayed state s.
func decision(s state) string {
	switch {
	case !s.open():
		return "nothing"
	case s.complete():
		return "finish"
	}
	d := "undo"
	if s.needsRestore() {
		d += "+restore"
	}
	if s.needsRestart() {
		d += "+restart"
	}
	return d
}

// TestReplayEveryPrefix replays every prefix of every journal the engine
// writes, as a crash could leave it, and checks the recovery decision
// against the rules doc.go states.
func TestReplayEveryPrefix(t *testing.T) {
	for _, j := range engineJournals() {
		t.Run(j.name, func(t *testing.T) {
			ps := j.payloads(t)
			if got := decision(state{}); got != "nothing" {
				t.Errorf("empty journal: %s, want nothing", got)
			}
			for n := 1; n <= len(ps); n++ {
				s, used := replay(ps[:n])
				if used != n {
					t.Fatalf("replay used %d of %d records", used, n)
				}
				steps := j.steps[:n-1]
				if got, want := decision(s), documented(j.begin, steps); got != want {
					t.Errorf("after %v: %s, want %s", append([]Step{StepBegin}, steps...), got, want)
				}
			}
			// The phase order holds for every journal written.
			prev := phaseBegin
			for _, step := range j.steps {
				p, ok := phaseOf(step)
				if !ok || p < prev {
					t.Errorf("step %s after phase %d", step, prev)
				}
				prev = p
			}
		})
	}
}

// TestReplayStopsAtUnreadable: a record no transaction could have written
// there ends the replay, and the records before it decide.
func TestReplayStopsAtUnreadable(t *testing.T) {
	begin := []byte(`{"step":"begin","op":"rollback","from":"1.1.0","to":"1.0.0"}`)
	install := []byte(`{"step":"install"}`)
	for name, bad := range map[string][]byte{
		"not json":       []byte(`{"step":`),
		"unknown step":   []byte(`{"step":"script-04"}`),
		"begin again":    begin,
		"step as number": []byte(`{"step":3}`),
	} {
		t.Run(name, func(t *testing.T) {
			s, used := replay([][]byte{begin, install, bad, []byte(`{"step":"done"}`)})
			if used != 2 || s.at != phaseInstall || decision(s) != "undo+restore" {
				t.Errorf("used %d records, at %s: %s", used, s.last(), decision(s))
			}
		})
	}
	for name, first := range map[string][]byte{
		"no begin":         install,
		"unknown op":       []byte(`{"step":"begin","op":"upgrade","to":"1.1.0"}`),
		"begin without op": []byte(`{"step":"begin","to":"1.1.0"}`),
	} {
		t.Run(name, func(t *testing.T) {
			if s, used := replay([][]byte{first, install}); used != 0 || s.open() {
				t.Errorf("used %d records, open %v", used, s.open())
			}
		})
	}
}
