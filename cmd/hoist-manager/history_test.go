package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
	"github.com/hoist-dev/hoist/internal/testutil/testbin"
)

// TestHistoryFromEngine runs the real engine and manager: the manager
// serves the history and logs the engine wrote, a failed update first.
func TestHistoryFromEngine(t *testing.T) {
	rels := releaserepo.DefaultReleases()[:2]
	rels[1].Files["scripts/update/02-run.sh"] = releaserepo.Script(`echo "migrating the database"; echo "migration failed: disk full" >&2; exit 3`)
	repo := releaserepo.New(t, rels...)
	root := filepath.Join(t.TempDir(), "app")
	uid, gid := strconv.Itoa(os.Getuid()), strconv.Itoa(os.Getgid())
	hoist := func(want int, args ...string) {
		t.Helper()
		if r := testbin.Run(t, nil, testbin.Path(t, "hoist"), args...); r.Code != want {
			t.Fatalf("hoist %v: %s", args, r)
		}
	}
	hoist(0, "init", root, "--repo", repo.FileURL(), "--pub", repo.PubFile, "--manager-uid", uid, "--manager-gid", gid)
	hoist(0, "apply", "--to", "v1.0.0", "--root", root)
	hoist(1, "apply", "--to", "v1.1.0", "--root", root)

	p := startManager(t, root, repo.FileURL())
	code, body := get(t, "GET", p.url+"/v1/system/history", testToken)
	var entries []struct{ ID, Action, From, To, Result, Reason, Script string }
	if err := json.Unmarshal([]byte(body), &entries); code != 200 || err != nil || len(entries) != 2 {
		t.Fatalf("history: %d %s %v", code, body, err)
	}
	failed := entries[0]
	if failed.Action != "apply" || failed.From != "1.0.0" || failed.To != "1.1.0" || failed.Result != "rolled-back" ||
		failed.Script != "02-run.sh" || !strings.Contains(failed.Reason, "status 3") || entries[1].Result != "success" {
		t.Errorf("entries: %+v", entries)
	}
	code, log := get(t, "GET", p.url+"/v1/system/history/"+failed.ID+"/log", testToken)
	for _, want := range []string{"==> 02-run.sh of v1.1.0\n", "migrating the database\n", "migration failed: disk full"} {
		if code != 200 || !strings.Contains(log, want) {
			t.Errorf("log lacks %q: %d\n%s", want, code, log)
		}
	}
	if code, _ := get(t, "GET", p.url+"/v1/system/history/"+failed.ID+"x/log", testToken); code != http.StatusNotFound {
		t.Errorf("unknown id: %d", code)
	}
}
