package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/manager/managertest"
	"github.com/hoist-dev/hoist/internal/notify"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/daemon"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// hook is a real webhook endpoint. The first hold requests wait until
// the test releases them and are then refused; the others are accepted.
type hook struct {
	url     string // the shoutrrr URL of its path /hook
	arrived chan struct{}
	release chan struct{}

	mu   sync.Mutex // guards the fields below
	hold int
	got  []string
}

func newHook(t *testing.T, hold int) *hook {
	h := &hook{hold: hold, arrived: make(chan struct{}, 16), release: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		held := h.hold > 0
		if held {
			h.hold--
		}
		h.mu.Unlock()
		if held {
			h.arrived <- struct{}{}
			<-h.release
			http.Error(w, "not taken", http.StatusServiceUnavailable)
			return
		}
		if strings.Contains(r.URL.Path, "refuse") {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		h.mu.Lock()
		h.got = append(h.got, string(body))
		h.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(h.release) })
	h.url = "generic+" + srv.URL + "/hook"
	return h
}

func (h *hook) messages() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.got...)
}

// setNotify writes the owner's notification targets into root's settings.
func setNotify(t *testing.T, root string, urls ...string) {
	t.Helper()
	data, err := json.Marshal(map[string][]string{"notify": urls})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "statuses/settings.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// unusedReleases is a release URL the manager never reads (no check runs).
func unusedReleases(t *testing.T) string {
	return "http://" + managertest.ClosedPort(t) + "/{ref}/info.json"
}

// A failed update is told exactly once although the manager is killed
// (SIGKILL) while it sends the message: the restarted manager finds the
// event in its outbox and delivers it, and re-reading the same failed
// status makes no second event.
func TestProcessNotifyKilledBeforeDelivery(t *testing.T) {
	root := managertest.NewRoot(t, "1.0.0")
	h := newHook(t, 1)
	releases := unusedReleases(t)
	setNotify(t, root, h.url)
	p := startManager(t, root, releases)
	outbox := filepath.Join(root, "statuses", notify.OutboxName)
	daemon.Eventually(t, "the first observation in the outbox", func() bool {
		_, err := os.Stat(outbox)
		return err == nil
	})

	// The engine fails the update to v1.1.0 in 02-run.sh.
	report := "update failed\n\nfrom:        v1.0.0\nto:          v1.1.0\nscript:      02-run.sh\nreason:      exit status 3\n"
	if err := os.WriteFile(filepath.Join(root, "statuses/last-failure.log"), []byte(report), 0o644); err != nil {
		t.Fatal(err)
	}
	managertest.WriteStatus(t, root, statusfile.Status{State: statusfile.Failed, Progress: 40, UpdateTo: "v1.1.0", Description: "02-run.sh: exit status 3; restored v1.0.0"})
	select {
	case <-h.arrived:
	case <-time.After(daemon.Timeout):
		t.Fatalf("no notification sent\n%s", p.Log())
	}
	p.Kill()
	h.release <- struct{}{} // the receiver refuses what the dead manager sent
	if data, err := os.ReadFile(outbox); err != nil || !strings.Contains(string(data), `"kind":"failed"`) {
		t.Fatalf("outbox after the kill: %s %v", data, err)
	}

	p = startManager(t, root, releases)
	daemon.Eventually(t, "the delivery after the restart", func() bool { return len(h.messages()) > 0 })
	time.Sleep(300 * time.Millisecond) // room for a wrong second message
	want := "hoist: update to v1.1.0 failed in 02-run.sh: 02-run.sh: exit status 3; restored v1.0.0"
	if got := h.messages(); len(got) != 1 || got[0] != want {
		t.Errorf("received %q, want once %q\n%s", got, want, p.Log())
	}
}

// A corrupt outbox is set aside with a clear log line and the manager
// serves on; the test notification answers per target, secrets redacted.
func TestProcessNotifyTest(t *testing.T) {
	root := managertest.NewRoot(t, "1.0.0")
	if err := os.WriteFile(filepath.Join(root, "statuses", notify.OutboxName), []byte("{\x00garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHook(t, 0)
	refusing := strings.Replace(h.url, "/hook", "/refuse-s3cret-topic", 1)
	setNotify(t, root, h.url, refusing)
	p := startManager(t, root, unusedReleases(t))
	p.WaitLine("the corrupt outbox's log line", func(line string) bool {
		return strings.Contains(line, "notification outbox unreadable: starting a fresh one")
	})
	if code, body := get(t, "GET", p.url+"/healthz", ""); code != http.StatusOK {
		t.Fatalf("healthz: %d %s", code, body)
	}
	code, body := get(t, "POST", p.url+"/v1/system/notify/test", testToken)
	var answer struct{ Results []notify.Result }
	if code != http.StatusOK || json.Unmarshal([]byte(body), &answer) != nil || len(answer.Results) != 2 {
		t.Fatalf("notify/test: %d %s", code, body)
	}
	for _, r := range answer.Results {
		if want := r.ID == notify.TargetID(h.url); r.OK != want || (r.Error == "") != want || !strings.HasPrefix(r.Target, "generic+http://127.0.0.1:") {
			t.Errorf("result %+v", r)
		}
	}
	if got := h.messages(); len(got) != 1 || !strings.HasPrefix(got[0], "hoist: test notification") {
		t.Errorf("received %q", got)
	}
	if strings.Contains(body+p.Log(), "s3cret") {
		t.Errorf("a notification URL shows unredacted:\n%s\n%s", body, p.Log())
	}

	none := startManager(t, managertest.NewRoot(t, "1.0.0"), unusedReleases(t))
	if code, body := get(t, "POST", none.url+"/v1/system/notify/test", testToken); code != http.StatusConflict {
		t.Errorf("without targets: %d %s", code, body)
	}
}

// The automatic check announces a new release once, however often it runs
// and although the manager restarts.
func TestProcessNotifyAvailable(t *testing.T) {
	root := managertest.NewRoot(t, "1.0.0")
	h := newHook(t, 0)
	setNotify(t, root, h.url)
	releases := releaserepo.New(t, releaserepo.Release{Version: "1.0.0"}, releaserepo.Release{Version: "1.1.0"}).FileURL()
	checks := func(p *process, n int) {
		t.Helper()
		daemon.Eventually(t, "automatic checks", func() bool {
			return strings.Count(p.Log(), "automatic check: update available") >= n
		})
	}
	p := startManager(t, root, releases, "--check-interval", "100ms")
	checks(p, 3)
	p.Stop()
	checks(startManager(t, root, releases, "--check-interval", "100ms"), 2)
	if got := h.messages(); len(got) != 1 || got[0] != "hoist: update available: v1.1.0" {
		t.Errorf("received %q", got)
	}
}
