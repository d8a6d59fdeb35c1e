package engine_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/testutil/treesnap"

	"github.com/hoist-dev/hoist/internal/engine"
	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// rollbackReleases are v1.0.0, whose 01-run.sh fails (status 4) while
// data/fail-01 exists, and v1.1.0.
func rollbackReleases() []releaserepo.Release {
	rels := releaserepo.DefaultReleases()[:2]
	s := releaserepo.LoggingScript("1.0.0", 1)
	s.Content = strings.Replace(s.Content, "set -e\n", "set -e\n[ ! -e \"$HOIST_ROOT/data/fail-01\" ] || exit 4\n", 1)
	rels[0].Files[scriptPath(1)] = s
	return rels
}

// updated returns a fixture updated from v1.0.0 to v1.1.0 and the
// snapshots of both (without data/, which the tests write to).
func updated(t *testing.T) (f *fixture, v100, v110 treesnap.Tree) {
	f = newFixture(t, rollbackReleases()...)
	f.must("apply", "--to", "v1.0.0")
	v100 = f.snap("data", ".app-*")
	f.must("apply", "--to", "v1.1.0")
	return f, v100, f.snap("data", ".app-*")
}

func TestRollback(t *testing.T) {
	f, v100, v110 := updated(t)
	f.must("rollback")
	treesnap.Same(t, "after rollback", f.snap("data", ".app-*"), v100)
	if st := f.status(); st.State != statusfile.Success || st.Description != "Rolled back to v1.0.0" {
		t.Errorf("status %+v", st)
	}
	if f.read("statuses/info.json") != f.read("info.json") || !strings.Contains(f.read("info.json"), `"1.0.0"`) {
		t.Error("statuses/info.json is not v1.0.0's info.json")
	}
	runs := releaserepo.ScriptRuns(t, f.root)
	if want := "v1.0.0/01 release=v1.0.0 from=1.1.0 args=v1.0.0 " + f.root; runs[len(runs)-1] != want {
		t.Errorf("last run %q, want %q", runs[len(runs)-1], want)
	}
	if r := f.hoist("rollback"); r.Code != exitcode.Failure || !strings.Contains(r.Stderr, engine.ErrNoBackup.Error()) {
		t.Errorf("second rollback: %s", r)
	}

	// A rollback whose 01-run.sh fails puts v1.1.0 back.
	f.must("apply", "--to", "v1.1.0")
	treesnap.Same(t, "updated again", f.snap("data", ".app-*"), v110)
	os.WriteFile(f.path("data/fail-01"), nil, 0o644)
	r := f.hoist("rollback")
	want := "01-run.sh exited with status 4; restored v1.1.0"
	if r.Code != exitcode.Failure || !strings.Contains(r.Stderr, want) {
		t.Fatalf("failing rollback: %s", r)
	}
	treesnap.Same(t, "after failed rollback", f.snap("data", ".app-*"), v110)
	if st := f.status(); st.State != statusfile.Failed || st.Description != want {
		t.Errorf("status %+v", st)
	}
	runs = releaserepo.ScriptRuns(t, f.root)
	if !strings.HasPrefix(runs[len(runs)-1], "v1.1.0/01 release=v1.1.0 from=1.0.0") {
		t.Errorf("v1.1.0's 01-run.sh did not run last: %q", runs)
	}
	if !strings.Contains(f.read(".hoist/logs/last-failure.log"), "rollback to v1.0.0 failed") {
		t.Error("no failure report")
	}
}

// TestCrashDuringRollback kills `hoist rollback` after each journal step,
// then recovers: the root is exactly v1.0.0 (the rollback finished) or
// exactly v1.1.0 (it was undone).
func TestCrashDuringRollback(t *testing.T) {
	base, v100, v110 := updated(t)
	finishes := []engine.Step{"script-01-done", engine.StepCommit, engine.StepDone}
	for _, step := range engine.Steps {
		for _, failing := range []bool{false, true} {
			name := string(step)
			if failing {
				name += "/01-fails"
			}
			t.Run(name, func(t *testing.T) {
				f := base.copyOf(t)
				if failing {
					os.WriteFile(f.path("data/fail-01"), nil, 0o644)
				}
				r := f.exec([]string{crashEnv + string(step)}, "rollback", "--root", f.root)
				if r.Code != -1 {
					t.Skipf("step not reached (%s)", firstLine(r.Stderr))
				}
				f.must("recover")
				want, wantSnap := v110, "v1.1.0"
				if !failing && slices.Contains(finishes, step) {
					want, wantSnap = v100, "v1.0.0"
				}
				treesnap.Same(t, "root (want "+wantSnap+")", f.snap("data", ".app-*"), want)
				if st := f.status(); !strings.Contains(st.Description, wantSnap) {
					t.Errorf("status %+v", st)
				}
			})
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
