package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hoist-dev/hoist/internal/manager/managertest"
	"github.com/hoist-dev/hoist/internal/rollbackfile"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

const chromium = "/usr/bin/chromium"

// shots is where the page's screenshots go (gitignored).
var shots = filepath.Join("..", "..", "testdata", "out")

// chrome is one headless Chromium shared by the page tests: starting one
// takes seconds, while each test's tab gets a browser context of its own
// (cookies, localStorage), as a fresh profile would.
var chrome struct {
	once  sync.Once
	ctx   context.Context // the browser's first tab
	close func()
	err   error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if chrome.close != nil {
		chrome.close()
	}
	os.Exit(code)
}

func startChrome() {
	dir, err := os.MkdirTemp("", "hoist-chromium-")
	if err != nil {
		chrome.err = err
		return
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(900, 760),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	chrome.ctx = ctx
	chrome.close = func() {
		cancel()
		cancelAlloc()
		os.RemoveAll(dir)
	}
	chrome.err = chromedp.Do(ctx) // starts the browser
}

// browser returns a new tab, in a browser context of its own, of the
// shared headless Chromium.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("chromium is not installed at %s (.ci/run installs it): the page is not tested", chromium)
	}
	chrome.once.Do(startChrome)
	if chrome.err != nil {
		t.Fatalf("start chromium: %v", chrome.err)
	}
	ctx, cancel := chromedp.NewContext(chrome.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// The page in a real browser against the real manager process: sign in,
// see the update, confirm it, watch the bar move to success while this test
// plays the engine, see a failure with its report, and the offline notice.
func TestPageInChromium(t *testing.T) {
	t.Parallel() // each has its own manager and browser context
	root := managertest.NewRoot(t, "0.9.0")
	p := startManager(t, root, releaserepo.New(t, managertest.WalkReleases()...).FileURL())
	b := newTab(t, p)

	progressIs := func(pct int) string {
		return fmt.Sprintf(`document.getElementById("progress").getAttribute("aria-valuenow") === "%d" && document.getElementById("progress-bar").style.width === "%d%%"`, pct, pct)
	}

	b.do("load", chromedp.Navigate(p.url), chromedp.WaitVisible(chromedp.ID("token-input")))
	b.shot("sign-in")
	b.do("sign in",
		chromedp.SendKeys(chromedp.ID("token-input"), testToken),
		chromedp.Click(chromedp.ID("token-save")),
		chromedp.WaitVisible(chromedp.ID("update-button")),
	)
	if got := b.text("installed-version"); got != "v0.9.0" {
		t.Errorf("installed version %q", got)
	}
	if got := b.text("update-chip"); got != "update available: v1.5.0" {
		t.Errorf("chip %q", got)
	}
	if got := b.text("update-step"); !strings.Contains(got, "towards v2.0.0") {
		t.Errorf("intermediate step not explained: %q", got)
	}
	if got := b.text("update-notes"); !strings.Contains(got, "Migrates the database.") {
		t.Errorf("notes %q", got)
	}
	b.shot("update-available")

	b.do("ask to update", chromedp.Click(chromedp.ID("update-button")), chromedp.WaitVisible(chromedp.ID("confirm-ok")))
	b.shot("confirm")
	b.do("confirm", chromedp.Click(chromedp.ID("confirm-ok")), chromedp.WaitVisible(chromedp.ID("progress-dialog")))
	b.until("the queued status", `document.getElementById("progress-desc").textContent === "Queued"`)

	// Play the engine; the page follows over the event stream.
	for i, pct := range []int{10, 35, 60, 85} {
		managertest.WriteStatus(t, root, statusfile.Status{State: statusfile.Installing, Progress: pct, Description: fmt.Sprintf("Running %02d-run.sh", i), UpdateTo: "v1.5.0"})
		b.until(fmt.Sprintf("the bar at %d%%", pct), progressIs(pct))
		if pct == 60 {
			if got := b.text("progress-desc"); got != "Running 02-run.sh" {
				t.Errorf("description %q", got)
			}
			b.shot("progress")
		}
	}
	if err := os.WriteFile(filepath.Join(root, "statuses/info.json"), []byte(`{"version":"1.5.0","name":"Bridge"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	managertest.WriteStatus(t, root, statusfile.Status{State: statusfile.Success, Progress: 100, Description: "Updated to v1.5.0"})
	b.until("success", progressIs(100)+` && document.getElementById("progress-title").textContent === "Update complete"`)
	b.shot("success")
	b.do("close", chromedp.Click(chromedp.ID("progress-close")), chromedp.WaitNotVisible(chromedp.ID("progress-dialog")))
	b.until("the new version", `document.getElementById("installed-version").textContent === "v1.5.0"`)
	b.until("the next update", `document.getElementById("update-chip").textContent === "update available: v2.0.0"`)

	// An update started elsewhere (hoist update) fails; the page opens the
	// dialog by itself and shows the failure report.
	report := "step: scripts\nscript: 02-run.sh\nexit status 3\nlast output:\n  migrate: table users is locked\n"
	if err := os.WriteFile(filepath.Join(root, "statuses/last-failure.log"), []byte(report), 0o644); err != nil {
		t.Fatal(err)
	}
	managertest.WriteStatus(t, root, statusfile.Status{State: statusfile.Installing, Progress: 40, Description: "Running 02-run.sh", UpdateTo: "v2.0.0"})
	b.do("dialog opens", chromedp.WaitVisible(chromedp.ID("progress-dialog")))
	b.until("the bar at 40%", progressIs(40))
	managertest.WriteStatus(t, root, statusfile.Status{State: statusfile.Failed, Progress: 40, Description: "02-run.sh exited with status 3; v1.5.0 was restored", UpdateTo: "v2.0.0"})
	b.until("the failure report", `document.getElementById("progress-log").textContent.includes("table users is locked")`)
	if got := b.text("progress-title"); got != "The update failed" {
		t.Errorf("title %q", got)
	}
	b.shot("failed")
	b.do("close", chromedp.Click(chromedp.ID("progress-close")), chromedp.WaitVisible(chromedp.ID("failure")))
	if got := b.text("failure-desc"); !strings.Contains(got, "exited with status 3") {
		t.Errorf("failure description %q", got)
	}
	if got := b.text("failure-log"); !strings.Contains(got, "table users is locked") {
		t.Errorf("failure log %q", got)
	}
	b.shot("failed-page")

	// Rollback button: confirm, and the signal is written.
	managertest.WriteRollback(t, root, rollbackfile.State{Backups: []string{"1.0.0"}})
	b.do("roll back", chromedp.Click(chromedp.ID("rollback-button")), chromedp.WaitVisible(chromedp.ID("confirm-ok")), chromedp.Click(chromedp.ID("confirm-ok")))
	b.until("the rollback notice", `document.getElementById("notice").textContent.startsWith("Rollback requested")`)
	if _, err := os.Stat(filepath.Join(root, "events/signals/rollback")); err != nil {
		t.Errorf("rollback signal: %v", err)
	}

	// The manager goes away: the page says so.
	p.Stop() // which must end in exit status 0
	b.do("offline notice", chromedp.WaitVisible(chromedp.ID("offline")))
	b.shot("offline")
}

// Behind a proxy that buffers the event stream, the page notices that no
// event arrives and follows the status by polling update-status instead.
func TestPagePollsBehindBufferingProxy(t *testing.T) {
	t.Parallel() // each has its own manager and browser context
	ctx := browser(t)
	root := managertest.NewRoot(t, "0.9.0")
	p := startManager(t, root, releaserepo.New(t, managertest.WalkReleases()...).FileURL())
	target, err := url.Parse(p.url)
	if err != nil {
		t.Fatal(err)
	}
	direct := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/system/events" {
			<-r.Context().Done() // buffers "forever": nothing reaches the page
			return
		}
		direct.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)

	if err := chromedp.Do(ctx,
		chromedp.Navigate(proxy.URL),
		chromedp.SendKeys(chromedp.ID("token-input"), testToken),
		chromedp.Click(chromedp.ID("token-save")),
		chromedp.WaitVisible(chromedp.ID("update-button")),
	); err != nil {
		t.Fatal(err)
	}
	managertest.WriteStatus(t, root, statusfile.Status{State: statusfile.Installing, Progress: 30, Description: "Running 01-run.sh", UpdateTo: "v1.5.0"})
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](
		`document.getElementById("progress").getAttribute("aria-valuenow") === "30" && document.getElementById("conn").textContent === "polling"`,
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("the page did not fall back to polling: %v", err)
	}
}
