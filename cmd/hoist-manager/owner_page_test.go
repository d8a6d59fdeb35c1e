package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hoist-dev/hoist/internal/manager/managertest"
	"github.com/hoist-dev/hoist/internal/rollbackfile"
	"github.com/hoist-dev/hoist/internal/settings"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

const ownerPassword = "correct horse battery staple"

// window is a daily window from now+from to now+to, in local time as the
// manager reads it.
func window(from, to time.Duration) string {
	now := time.Now()
	return now.Add(from).Format("15:04") + "-" + now.Add(to).Format("15:04")
}

// exists reports whether root/rel appears within d.
func exists(root, rel string, d time.Duration) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(root, rel)); err == nil {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// The owner's page end to end against the real manager: sign in with the
// password, the update card with its changelog, every setting changed on
// the page and read back through the API, a version skipped and allowed
// again, the automatic update refused outside the window and requested
// inside it, rollback, and sign out.
func TestPageOwner(t *testing.T) {
	t.Parallel() // each has its own manager and browser context
	root := managertest.NewRoot(t, "0.9.0")
	if code := runPasswd(t, root, ownerPassword+"\n"); code != 0 {
		t.Fatalf("hoist-manager passwd: exit %d", code)
	}
	repo := releaserepo.New(t,
		releaserepo.Release{Version: "0.9.0"},
		releaserepo.Release{Version: "1.0.0", Name: "Spring", Notes: "Starts faster.", Changelog: "https://example.com/CHANGES.md#v1.0.0"},
	)
	p := startManager(t, root, repo.FileURL(), "--check-interval", "200ms", "--cache-ttl", "0")
	b := newTab(t, p)

	b.do("load", chromedp.Navigate(p.url), chromedp.WaitVisible(chromedp.ID("password-input")))
	b.shot("sign-in")
	b.do("wrong password",
		chromedp.SendKeys(chromedp.ID("password-input"), "not the password"),
		chromedp.Click(chromedp.ID("signin-button")),
		chromedp.WaitVisible(chromedp.ID("signin-error")))
	if got := b.text("signin-error"); got != "Wrong password." {
		t.Errorf("wrong password: %q", got)
	}
	b.do("sign in",
		chromedp.SendKeys(chromedp.ID("password-input"), ownerPassword),
		chromedp.Click(chromedp.ID("signin-button")),
		chromedp.WaitVisible(chromedp.ID("update-button")),
		chromedp.WaitVisible(chromedp.ID("settings-form")))
	if got := b.text("update-title"); got != "v1.0.0 — Spring" {
		t.Errorf("update title %q", got)
	}
	href, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById("update-changelog").href`))
	if err != nil || href != "https://example.com/CHANGES.md#v1.0.0" {
		t.Errorf("changelog link %q, %v", href, err)
	}
	if got := b.text("installed-channel"); got != "stable channel" {
		t.Errorf("channel %q", got)
	}
	b.shot("signed-in")

	// Every setting, saved from the page and read back through the API.
	outside := window(2*time.Hour, 3*time.Hour)
	from, to, _ := strings.Cut(outside, "-")
	b.do("change the settings",
		chromedp.Click(chromedp.ID("set-auto")),
		chromedp.SetValue(chromedp.ID("set-window-from"), from),
		chromedp.SetValue(chromedp.ID("set-window-to"), to),
		chromedp.SetValue(chromedp.ID("set-channel"), "beta"),
		chromedp.SendKeys(chromedp.ID("set-notify"), "ntfy://ntfy.sh/secret-topic"),
		chromedp.Click(chromedp.ID("settings-save")))
	b.until("saved", `document.getElementById("settings-status").textContent === "Saved."`)
	var got settings.Settings
	apiJSON(t, p, "GET", "/v1/system/settings", "", &got)
	want := settings.Settings{AutoUpdate: true, Channel: "beta", Skip: []string{}, Notify: []string{"ntfy://ntfy.sh/***"}}
	if got.AutoUpdate != want.AutoUpdate || got.Window.String() != outside || got.Channel != want.Channel || !slices.Equal(got.Notify, want.Notify) {
		t.Errorf("settings after saving: %+v (window %q), want %+v with window %q", got, got.Window, want, outside)
	}
	if page := b.text("settings-card"); strings.Contains(page, "secret-topic") {
		t.Errorf("the page shows a notification secret:\n%s", page)
	}
	if got := b.text("installed-channel"); got != "beta channel" {
		t.Errorf("channel after saving %q", got)
	}
	// A refused change says why and changes nothing.
	b.do("a bad notification URL",
		chromedp.SendKeys(chromedp.ID("set-notify"), "\nnot a url"),
		chromedp.Click(chromedp.ID("settings-save")),
		chromedp.WaitVisible(chromedp.ID("settings-error")))
	if got := b.text("settings-error"); !strings.HasPrefix(got, "Not saved: ") || !strings.Contains(got, "notify entry 2") {
		t.Errorf("refused settings: %q", got)
	}
	var after settings.Settings
	apiJSON(t, p, "GET", "/v1/system/settings", "", &after)
	if !slices.Equal(after.Notify, got.Notify) {
		t.Errorf("a refused save changed notify: %q", after.Notify)
	}
	b.do("drop the bad line", chromedp.SetValue(chromedp.ID("set-notify"), "ntfy://ntfy.sh/***"))

	// Outside the window the automatic update waits, and the page says until when.
	b.do("check again", chromedp.Click(chromedp.ID("check-button")), chromedp.WaitVisible(chromedp.ID("next-auto")))
	if got := b.text("next-auto"); !strings.HasPrefix(got, "The next automatic update may start") {
		t.Errorf("next automatic update %q", got)
	}
	b.shot("settings-saved")
	if exists(root, "events/signals/update", time.Second) {
		t.Fatalf("an automatic update was requested outside the window %s\n%s", outside, p.Log())
	}

	// Skip the offered version, then allow it again.
	b.do("skip", chromedp.Click(chromedp.ID("skip-button")))
	b.until("the skipped version listed", `document.getElementById("skip-list").textContent.includes("v1.0.0")`)
	apiJSON(t, p, "GET", "/v1/system/settings", "", &got)
	if !slices.Equal(got.Skip, []string{"v1.0.0"}) {
		t.Errorf("skip after skipping: %q", got.Skip)
	}
	b.until("the update card saying so", `document.getElementById("update-step").textContent.includes("You skipped this version")`)
	b.shot("skipped")
	b.do("allow again", chromedp.Click(chromedp.CSS(`#skip-list .remove`)))
	b.until("the list empty", `document.getElementById("skip-list").children.length === 0`)
	apiJSON(t, p, "GET", "/v1/system/settings", "", &got)
	if len(got.Skip) != 0 {
		t.Errorf("skip after allowing again: %q", got.Skip)
	}

	// Inside the window the manager requests the update by itself, and the
	// page follows it.
	inside := window(-time.Hour, time.Hour)
	from, to, _ = strings.Cut(inside, "-")
	b.do("open the window",
		chromedp.SetValue(chromedp.ID("set-window-from"), from),
		chromedp.SetValue(chromedp.ID("set-window-to"), to),
		chromedp.Click(chromedp.ID("settings-save")))
	if !exists(root, "events/signals/update", 10*time.Second) {
		t.Fatalf("no automatic update inside the window %s\n%s", inside, p.Log())
	}
	b.do("the progress dialog", chromedp.WaitVisible(chromedp.ID("progress-dialog")))
	b.until("the update followed", `document.getElementById("progress-title").textContent === "Updating to v1.0.0"`)
	b.shot("automatic-update")
	managertest.WriteStatus(t, root, statusfile.Status{State: statusfile.Failed, Progress: 60, Description: "02-run.sh exited with status 3; v0.9.0 was restored", UpdateTo: "v1.0.0"})
	b.until("the failure", `document.getElementById("progress-title").textContent === "The update failed"`)
	b.click("progress-close", "failure")

	// Rollback asks first, then writes the signal.
	// As the engine does after restoring: v1.0.0 is not requested again.
	managertest.WriteRollback(t, root, rollbackfile.State{Backups: []string{"0.8.0"}, RolledBackFrom: []string{"1.0.0"}})
	b.click("rollback-button", "confirm-ok")
	b.shot("rollback-confirm")
	b.do("confirm", chromedp.Click(chromedp.ID("confirm-ok")))
	b.until("the rollback notice", `document.getElementById("notice").textContent.startsWith("Rollback requested")`)
	if !exists(root, "events/signals/rollback", 5*time.Second) {
		t.Errorf("no rollback signal")
	}
	// The engine rolls back too fast for the page to see it running: the
	// finished status alone makes the page read the version again.
	if err := os.WriteFile(filepath.Join(root, "statuses/info.json"), []byte(`{"version":"0.8.0","name":"Eight"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	managertest.WriteStatus(t, root, statusfile.Status{State: statusfile.Success, Progress: 100, Description: "Rolled back to v0.8.0"})
	b.until("the version rolled back to", `document.getElementById("installed-version").textContent === "v0.8.0"`)

	// Sign out ends the session: the page asks for the password again and
	// the manager no longer knows the browser.
	b.click("signout-button", "password-input")
	b.shot("signed-out")
	acct, err := chromedp.Run(b.ctx, chromedp.Evaluate[map[string]bool](`fetch("/v1/account").then((r) => r.json())`, chromedp.EvalAwaitPromise))
	if err != nil || acct["signed_in"] || !acct["password_set"] {
		t.Errorf("account after signing out: %v, %v", acct, err)
	}
	if code, _ := get(t, "GET", p.url+"/v1/system/settings", ""); code != 401 {
		t.Errorf("settings without a session: %d", code)
	}
}

// On a phone (360 px wide) no state of the page scrolls sideways, even
// with long notes, names, URLs and logs in it.
func TestPageNarrow(t *testing.T) {
	t.Parallel() // each has its own manager and browser context
	root := managertest.NewRoot(t, "0.9.0")
	long := strings.Repeat("averylongwordwithoutspaces", 8)
	repo := releaserepo.New(t,
		releaserepo.Release{Version: "0.9.0"},
		releaserepo.Release{Version: "1.0.0", Name: "A release with a rather long name " + long, Notes: "Notes: " + long, Changelog: "https://example.com/" + long},
	)
	p := startManager(t, root, repo.FileURL())
	apiJSON(t, p, "PUT", "/v1/system/settings", `{"auto_update":true,"window":"03:00-05:00","skip":["v0.9.1","v0.9.2","v0.9.3","v0.9.4"],"notify":["generic+https://hooks.example.com/`+long+`?token=secret"]}`, nil)
	report := "step: scripts\nscript: 02-run.sh\nlast output:\n  " + long + long + "\n"
	if err := os.WriteFile(filepath.Join(root, "statuses/last-failure.log"), []byte(report), 0o644); err != nil {
		t.Fatal(err)
	}
	b := newTab(t, p)
	b.do("narrow window", chromedp.EmulateViewport(360, 740), chromedp.Navigate(p.url), chromedp.WaitVisible(chromedp.ID("token-input")))
	b.noOverflow("sign-in")
	b.shot("sign-in")
	b.do("sign in",
		chromedp.SendKeys(chromedp.ID("token-input"), testToken),
		chromedp.Click(chromedp.ID("token-save")),
		chromedp.WaitVisible(chromedp.ID("update-button")),
		chromedp.WaitVisible(chromedp.ID("settings-form")))
	b.until("the skipped versions", `document.getElementById("skip-list").children.length === 4`)
	b.noOverflow("signed in")
	b.shot("signed-in")
	b.click("update-button", "confirm-ok")
	b.noOverflow("confirm dialog")
	b.do("confirm", chromedp.Click(chromedp.ID("confirm-ok")), chromedp.WaitVisible(chromedp.ID("progress-dialog")))
	managertest.WriteStatus(t, root, statusfile.Status{State: statusfile.Failed, Progress: 40, Description: "02-run.sh failed: " + long, UpdateTo: "v1.0.0"})
	b.until("the failure report", `document.getElementById("progress-log").textContent.includes("averylongword")`)
	b.noOverflow("failure dialog")
	b.shot("failure-dialog")
	b.click("progress-close", "failure-log")
	b.noOverflow("failure on the page")
	b.shot("failure")
}
