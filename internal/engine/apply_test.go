package engine_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/config"
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
			userData := snapshot(t, f.path("data"), "script-log")

			f.request("v1.1.0")
			r := f.must("apply")
			t.Log(r.stdout)
			if st := f.status(); st != (statusfile.Status{State: statusfile.Success, Progress: 100, Description: "Updated to v1.1.0"}) {
				t.Errorf("status = %+v", st)
			}
			if got := f.read("app/config.yml"); got != "version: 1.1.0\n" {
				t.Errorf("config.yml = %q", got)
			}
			if _, err := os.Lstat(f.path("app/legacy.txt")); !os.IsNotExist(err) {
				t.Errorf("legacy.txt not removed: %v", err)
			}
			sameTree(t, "data/", snapshot(t, f.path("data"), "script-log"), userData)
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
			if r := f.hoist("verify"); r.code != 0 || !strings.Contains(r.stdout, "all files match") {
				t.Errorf("verify after update: %s", r)
			}
		})
	}
}
