package raspi

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// updateTimeout bounds an emulated update requested through the manager:
// qemu runs the engine several times slower than the host.
const updateTimeout = 2 * time.Minute

// TestSmoke runs the arm64 and armv7 binaries under qemu through what a
// node does: init, two updates, a rollback and a verification by hand, then
// an update asked of the manager and run by the supervisor's trigger.
func TestSmoke(t *testing.T) {
	for _, tg := range smokeTargets() {
		t.Run(tg.arch, func(t *testing.T) {
			t.Parallel()
			e := emulate(t, tg)
			repo := releaserepo.New(t, releaserepo.DefaultReleases()...)
			url := repo.ServeHTTP(t)
			root := filepath.Join(t.TempDir(), "app")

			e.hoist("init", root, "--repo", url, "--pub", repo.PubFile)
			e.hoist("apply", "--root", root, "--to", "v1.0.0")
			wantVersion(t, root, "1.0.0")
			e.hoist("apply", "--root", root, "--to", "v1.1.0")
			wantVersion(t, root, "1.1.0")
			e.hoist("rollback", "--root", root)
			wantVersion(t, root, "1.0.0")
			e.hoist("verify", "--root", root)

			e.supervise(root)
			api := e.manage(root, url) + "/v1/system/"
			code, body := call(t, http.MethodGet, api+"get-update")
			var next struct{ Version string }
			if err := json.Unmarshal(body, &next); code != http.StatusOK || err != nil || next.Version != "1.1.0" {
				t.Fatalf("get-update: %d %s, want 1.1.0", code, body)
			}
			if code, body := call(t, http.MethodPost, api+"update"); code != http.StatusOK {
				t.Fatalf("update: %d %s", code, body)
			}
			waitUpdated(t, root)
			wantVersion(t, root, "1.1.0")
			if n := runs(t, root, "v1.1.0/00 "); n != 2 {
				t.Errorf("v1.1.0's first script ran %d times, want 2 (by hand, then by the trigger)", n)
			}
			e.hoist("verify", "--root", root)
		})
	}
}

// wantVersion fails the test unless root's info.json has version want.
func wantVersion(t *testing.T, root, want string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, approot.InfoFile))
	if err != nil {
		t.Fatal(err)
	}
	var info struct{ Version string }
	if err := json.Unmarshal(data, &info); err != nil || info.Version != want {
		t.Fatalf("installed %q (%v), want %s", info.Version, err, want)
	}
}

// waitUpdated waits until the status file says the requested update ended,
// failing the test unless it succeeded.
func waitUpdated(t *testing.T, root string) {
	t.Helper()
	path := filepath.Join(root, approot.StatusesDir, statusfile.Name)
	deadline := time.Now().Add(updateTimeout)
	for {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		st, err := statusfile.Parse(data)
		switch {
		case err != nil:
			t.Fatal(err)
		case st.State == statusfile.Success:
			return
		case st.State == statusfile.Failed:
			t.Fatalf("update failed: %s", st.Description)
		case time.Now().After(deadline):
			t.Fatalf("update not done after %s: %s", updateTimeout, data)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runs counts the lines of root's script log that start with prefix.
func runs(t *testing.T, root, prefix string) int {
	t.Helper()
	n := 0
	for _, line := range releaserepo.ScriptRuns(t, root) {
		if strings.HasPrefix(line, prefix) {
			n++
		}
	}
	return n
}
