package engine_test

import (
	"os"
	"slices"
	"testing"

	"github.com/hoist-dev/hoist/internal/engine"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// TestCrashRestoringWithoutJournal kills an apply after it installed the
// files, deletes the journal, then kills the recover that restores the
// undo area under a new journal at each of its steps: the next recover
// must still restore exactly the old release, because the new journal
// says that the root may have changed rather than that nothing happened.
func TestCrashRestoringWithoutJournal(t *testing.T) {
	base := atV100(t)
	old := base.snap(".app-*")
	for _, step := range []engine.Step{engine.StepBegin, engine.StepUndo} {
		t.Run(string(step), func(t *testing.T) {
			f := base.copyOf(t)
			if r := f.exec([]string{crashEnv + "installed"}, "apply", "--to", "v1.1.0", "--root", f.root); r.Code != -1 {
				t.Fatalf("apply was not killed: %s", r)
			}
			if err := os.Remove(f.path(".hoist/journal")); err != nil {
				t.Fatal(err)
			}
			if r := f.exec([]string{crashEnv + string(step)}, "recover", "--root", f.root); r.Code != -1 {
				t.Fatalf("recover was not killed: %s", r)
			}
			f.must("recover")
			if got := f.outcome(old, nil); got != "old" {
				t.Fatalf("root is the %s release, want the old one", got)
			}
			if st := f.status(); st.Description != "update to v1.1.0 was interrupted; restored v1.0.0" {
				t.Errorf("status %+v", st)
			}
		})
	}
}

// TestMissingScriptsJournalBoth: a release without some update scripts
// journals the same steps as one with all of them, so that script-03-done
// still proves the apply complete to a recover.
func TestMissingScriptsJournalBoth(t *testing.T) {
	rels := releaserepo.DefaultReleases()[:2]
	for _, n := range []int{0, 2, 3} {
		delete(rels[1].Files, scriptPath(n))
	}
	f := newFixture(t, rels...)
	f.must("apply", "--to", "v1.0.0")
	f.must("apply", "--to", "v1.1.0")
	want := slices.DeleteFunc(slices.Clone(engine.Steps), func(s engine.Step) bool {
		return slices.Contains([]engine.Step{engine.StepUndo, engine.StepRestored, engine.StepRestart}, s)
	})
	if got := journalSteps(t, f.root); !slices.Equal(got, want) {
		t.Errorf("journaled %v, want %v", got, want)
	}
}
