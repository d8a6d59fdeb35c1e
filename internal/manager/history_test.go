package manager

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/history"
	"github.com/hoist-dev/hoist/internal/manager/managertest"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// recordRuns writes the history of two runs into root with the engine's
// own code: an update that succeeded, then one whose script failed.
func recordRuns(t *testing.T, root string) (ok, failed history.Entry) {
	t.Helper()
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.MkdirAll(".hoist", 0o700); err != nil {
		t.Fatal(err)
	}
	statuses, err := r.OpenRoot("statuses")
	if err != nil {
		t.Fatal(err)
	}
	defer statuses.Close()
	s := history.NewStore(r, statuses)
	start := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	for i, e := range []*history.Entry{&ok, &failed} {
		id, err := s.NextID(start.Add(time.Duration(i) * time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		*e = history.Entry{ID: id, Action: history.Apply, From: "0.9.0", To: "1.5.0", Started: start, Finished: start.Add(time.Minute), Result: history.Success}
		f, err := s.RunLog(id)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("==> 01-run.sh of v1.5.0\nrun " + id + "\n")
		f.Close()
		if i == 1 {
			e.Result, e.Reason, e.Script = history.RolledBack, "02-run.sh exited with status 3", "02-run.sh"
		}
		if err := s.KeepLog(id); err != nil {
			t.Fatal(err)
		}
		if err := s.Record(*e); err != nil {
			t.Fatal(err)
		}
	}
	return ok, failed
}

func TestHistory(t *testing.T) {
	root := managertest.NewRoot(t, "0.9.0")
	s := start(t, root, releaserepo.New(t, managertest.WalkReleases()...).FileURL(), options{})
	code, _, body := call(t, "GET", s.url+"/v1/system/history", testToken, "")
	if code != 200 || strings.TrimSpace(body) != "[]" {
		t.Errorf("no history yet: %d %s", code, body)
	}
	if code, _, _ := call(t, "GET", s.url+"/v1/system/history", "", ""); code != http.StatusUnauthorized {
		t.Errorf("without a token: %d", code)
	}
	ok, failed := recordRuns(t, root)
	code, _, body = call(t, "GET", s.url+"/v1/system/history", testToken, "")
	var got []map[string]any
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil || len(got) != 2 {
		t.Fatalf("history: %d %s %v", code, body, err)
	}
	if got[0]["id"] != failed.ID || got[0]["result"] != "rolled-back" || got[0]["script"] != "02-run.sh" || got[1]["id"] != ok.ID {
		t.Errorf("not newest first: %s", body)
	}
	for _, key := range []string{"id", "action", "from", "to", "started", "finished", "result", "reason"} {
		if _, present := got[0][key]; !present {
			t.Errorf("entry lacks %q: %v", key, got[0])
		}
	}
	code, h, body := call(t, "GET", s.url+"/v1/system/history/"+failed.ID+"/log", testToken, "")
	if code != 200 || body != "==> 01-run.sh of v1.5.0\nrun "+failed.ID+"\n" || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Errorf("log: %d %q %v", code, body, h)
	}
	if code, _, _ := call(t, "GET", s.url+"/v1/system/history/"+failed.ID+"/log", "", ""); code != http.StatusUnauthorized {
		t.Errorf("log without a token: %d", code)
	}
}

// Ids in the log URL that are not the engine's are 404s that read
// nothing; so is a log planted as a symlink.
func TestHistoryLogHostileIDs(t *testing.T) {
	root := managertest.NewRoot(t, "0.9.0")
	s := start(t, root, releaserepo.New(t, managertest.WalkReleases()...).FileURL(), options{})
	recordRuns(t, root)
	writeFile(t, filepath.Join(root, "statuses/secret.log"), "root:x:0:0")
	for _, id := range []string{"..", "%2e%2e", "..%2fsecret", "..%2F..%2F.hoist%2Fconfig.json", "20261205T030000Z-1%2f..%2f..%2fsecret",
		"20261205T030000Z-9", "20261205T030000Z-01", "secret", "20261205T030000Z-1%00", strings.Repeat("1", 3000)} {
		code, _, body := call(t, "GET", s.url+"/v1/system/history/"+id+"/log", testToken, "")
		if (code != http.StatusNotFound && code != http.StatusMovedPermanently) || strings.Contains(body, "root:") {
			t.Errorf("id %.40q: %d %s", id, code, body)
		}
	}
	id := "20261205T050000Z-7"
	if err := os.Symlink("../secret.log", filepath.Join(root, "statuses/history", id+".log")); err != nil {
		t.Fatal(err)
	}
	if code, _, body := call(t, "GET", s.url+"/v1/system/history/"+id+"/log", testToken, ""); code == 200 || strings.Contains(body, "root:") {
		t.Errorf("symlinked log: %d %s", code, body)
	}
}

// A malformed history.json is an error for its own endpoint only; the
// manager goes on serving.
func TestHistoryMalformed(t *testing.T) {
	root := managertest.NewRoot(t, "0.9.0")
	s := start(t, root, releaserepo.New(t, managertest.WalkReleases()...).FileURL(), options{})
	for _, data := range []string{"{not json", `{"id":1}`, strings.Repeat("[", 100000), "\x00\xff"} {
		writeFile(t, filepath.Join(root, "statuses/history.json"), data)
		code, _, body := call(t, "GET", s.url+"/v1/system/history", testToken, "")
		if code != 500 || !strings.Contains(errorOf(t, body), "history file is unreadable") {
			t.Errorf("%.20q: %d %s", data, code, body)
		}
	}
	writeFile(t, filepath.Join(root, "statuses/history.json"), strings.Repeat(" ", 2<<20)+"[]")
	if code, _, body := call(t, "GET", s.url+"/v1/system/history", testToken, ""); code != 500 {
		t.Errorf("oversized: %d %s", code, body)
	}
	for _, p := range []string{"/healthz", "/v1/system/update-status", "/v1/system/info"} {
		if code, _, body := call(t, "GET", s.url+p, testToken, ""); code != 200 {
			t.Errorf("%s after a malformed history: %d %s", p, code, body)
		}
	}
}
