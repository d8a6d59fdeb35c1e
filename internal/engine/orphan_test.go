package engine_test

import (
	"os"
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
	base := newFixture(t, releaserepo.DefaultReleases()[:2]...)
	base.must("apply", "--to", "v1.0.0")
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
