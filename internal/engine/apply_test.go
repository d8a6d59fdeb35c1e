package engine_test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/testutil/treesnap"

	"github.com/hoist-dev/hoist/internal/config"
	"github.com/hoist-dev/hoist/internal/engine"
	"github.com/hoist-dev/hoist/internal/journal"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// TestFirstInstallAndUpdate installs v1.0.0 on a fresh root, then updates
// to v1.1.0 as the manager requests it, over file:// and over HTTP.
func TestFirstInstallAndUpdate(t *testing.T) {
	for _, transport := range []string{"file", "http"} {
		t.Run(transport, func(t *testing.T) {
			f := newFixture(t, releaserepo.DefaultReleases()...)
			if transport == "http" {
				url := f.repo.ServeHTTP(t)
				f.editConfig(func(c *config.Config) { c.Repo = url })
			}
			f.must("apply", "--to", "v1.0.0")
			if got := f.read("app/config.yml"); got != "version: 1.0.0\n" {
				t.Fatalf("config.yml = %q", got)
			}
			os.WriteFile(f.path("data/user.db"), []byte("the user's data"), 0o600)
			userData := treesnap.Take(t, f.path("data"), "script-log")
			// Files the releases do not list are the user's, wherever they are.
			os.WriteFile(f.path("notes.txt"), []byte("mine"), 0o600)
			os.WriteFile(f.path("app/local.conf"), []byte("mine too"), 0o600)

			f.request("v1.1.0")
			r := f.must("apply")
			t.Log(r.Stdout)
			if st := f.status(); st != (statusfile.Status{State: statusfile.Success, Progress: 100, Description: "Updated to v1.1.0"}) {
				t.Errorf("status = %+v", st)
			}
			if got := f.read("app/config.yml"); got != "version: 1.1.0\n" {
				t.Errorf("config.yml = %q", got)
			}
			if _, err := os.Lstat(f.path("app/legacy.txt")); !os.IsNotExist(err) {
				t.Errorf("legacy.txt not removed: %v", err)
			}
			treesnap.Same(t, "data/", treesnap.Take(t, f.path("data"), "script-log"), userData)
			if f.read("notes.txt") != "mine" || f.read("app/local.conf") != "mine too" {
				t.Error("unlisted user files changed")
			}
			if f.read("statuses/info.json") != f.read("info.json") {
				t.Error("statuses/info.json is not a copy of info.json")
			}
			for _, gone := range []string{".app-v1.1.0", ".hoist/undo"} {
				if _, err := os.Lstat(f.path(gone)); !os.IsNotExist(err) {
					t.Errorf("%s left behind", gone)
				}
			}
			if _, err := os.Stat(f.path(".hoist/backups/1.0.0/index.json")); err != nil {
				t.Errorf("no backup of v1.0.0: %v", err)
			}
			runs := releaserepo.ScriptRuns(t, f.root)
			want := []string{"v1.1.0/00 release=v1.1.0 from=1.0.0 args=v1.1.0 " + f.root}
			if !slices.Contains(runs, want[0]) {
				t.Errorf("script runs %q lack %q", runs, want[0])
			}
			if r := f.hoist("verify"); r.Code != 0 || !strings.Contains(r.Stdout, "all files match") {
				t.Errorf("verify after update: %s", r)
			}
		})
	}
}

// journalSteps returns the steps in root's journal.
func journalSteps(t *testing.T, root string) []engine.Step {
	t.Helper()
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	j, recs, err := journal.Open(r, ".hoist/journal")
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	var steps []engine.Step
	for _, rec := range recs {
		var s struct{ Step engine.Step }
		if err := json.Unmarshal(rec, &s); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, s.Step)
	}
	return steps
}

// TestJournalSteps checks what an update and a failed one journal, in
// order, against the exported list that the crash tests iterate over.
func TestJournalSteps(t *testing.T) {
	f := newFixture(t, releaserepo.DefaultReleases()[0], releaserepo.DefaultReleases()[1], failingAt("1.2.0", 2))
	f.must("apply", "--to", "v1.0.0")
	f.must("apply", "--to", "v1.1.0")
	ok := journalSteps(t, f.root)
	want := []engine.Step{"begin", "fetched", "verified", "script-00", "script-00-done", "backup", "backed-up", "install", "installed",
		"script-01", "script-01-done", "script-02", "script-02-done", "script-03", "script-03-done", "commit", "done"}
	if !slices.Equal(ok, want) {
		t.Errorf("update journaled %v, want %v", ok, want)
	}
	f.hoist("apply", "--to", "v1.2.0")
	failed := journalSteps(t, f.root)
	want = append(want[:12:12], "undo", "restored", "restart", "done")
	if !slices.Equal(failed, want) {
		t.Errorf("failed update journaled %v, want %v", failed, want)
	}
	for _, s := range append(ok, failed...) {
		if !slices.Contains(engine.Steps, s) {
			t.Errorf("step %q is not in engine.Steps", s)
		}
	}
}

// TestDowngradeAndStuckStatus: --allow-downgrade installs an older
// release; recover turns a status stuck at installing, with no update
// running, into a failure that says so.
func TestDowngradeAndStuckStatus(t *testing.T) {
	f := atV100(t)
	f.must("apply", "--to", "v1.1.0")
	f.must("apply", "--to", "v1.0.0", "--allow-downgrade")
	if got := f.read("app/config.yml"); got != "version: 1.0.0\n" {
		t.Errorf("config.yml = %q after downgrade", got)
	}
	if st := f.status(); st.State != statusfile.Success || st.Description != "Updated to v1.0.0" {
		t.Errorf("status %+v", st)
	}

	// Queued with its signal still waiting: the supervisor runs it after
	// its start-up recover, which must leave the request alone.
	f.request("v1.1.0")
	signal := f.path("events/signals/update")
	if err := os.WriteFile(signal, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := f.must("recover"); strings.TrimSpace(r.Stdout) != "nothing to recover" {
		t.Errorf("recover with the request queued: %s", r)
	}
	if st := f.status(); st.State != statusfile.Installing || st.Description != "Queued" {
		t.Errorf("queued request changed by recover: %+v", st)
	}

	os.Remove(signal) // queued, but the signal was consumed and the update never ran
	r := f.must("recover")
	want := "update to v1.1.0 was interrupted before it started; v1.0.0 is still installed"
	if st := f.status(); st.State != statusfile.Failed || st.Description != want || st.UpdateTo != "v1.1.0" {
		t.Errorf("status %+v (recover said %q)", st, r.Stdout)
	}
	if r := f.must("recover"); strings.TrimSpace(r.Stdout) != "nothing to recover" {
		t.Errorf("second recover: %s", r)
	}
}
