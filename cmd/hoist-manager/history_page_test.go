package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
	"github.com/hoist-dev/hoist/internal/testutil/testbin"
)

// A failed update run by the real engine while the page is open: the page
// follows it, the history shows it on top, coloured as rolled back, with
// its script output one click away, the owner is notified, and "Send test
// notification" reaches the same webhook.
func TestPageFailedUpdateHistory(t *testing.T) {
	t.Parallel() // each has its own manager and browser context
	rels := releaserepo.DefaultReleases()[:2]
	rels[1].Files["scripts/update/02-run.sh"] = releaserepo.Script(`echo "migrating the database"; echo "table users is locked" >&2; exit 3`)
	repo := releaserepo.New(t, rels...)
	root := filepath.Join(t.TempDir(), "app")
	hoist := func(wantOK bool, args ...string) {
		t.Helper()
		if r := testbin.Run(t, nil, testbin.Path(t, "hoist"), args...); (r.Code == 0) != wantOK {
			t.Fatalf("hoist %v: %s", args, r)
		}
	}
	hoist(true, "init", root, "--repo", repo.FileURL(), "--pub", repo.PubFile,
		"--manager-uid", strconv.Itoa(os.Getuid()), "--manager-gid", strconv.Itoa(os.Getgid()))
	hoist(true, "apply", "--to", "v1.0.0", "--root", root)

	h := newHook(t, 0)
	p := startManager(t, root, repo.FileURL())
	apiJSON(t, p, "PUT", "/v1/system/settings", `{"notify":["`+h.url+`"]}`, nil)
	b := newTab(t, p)
	b.do("sign in",
		chromedp.Navigate(p.url),
		chromedp.SendKeys(chromedp.ID("token-input"), testToken),
		chromedp.Click(chromedp.ID("token-save")),
		chromedp.WaitVisible(chromedp.CSS("#history-list li.run.success")))
	if got := b.text("history-list"); !strings.Contains(got, "Update v1.0.0") || !strings.Contains(got, "succeeded") {
		t.Errorf("history of the first install: %q", got)
	}

	hoist(false, "apply", "--to", "v1.1.0", "--root", root)
	// The page opens the progress dialog when it sees the run start: close it.
	b.until("the failure", `!document.getElementById("failure").hidden`)
	if open, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.getElementById("progress-dialog").open`)); err == nil && open {
		b.do("close the dialog", chromedp.Click(chromedp.ID("progress-close")), chromedp.WaitNotVisible(chromedp.ID("progress-dialog")))
	}
	b.until("the failed run on top", `document.querySelector("#history-list li.run").classList.contains("rolled-back")`)
	if got := b.text("history-list"); !strings.Contains(got, "Update v1.0.0 → v1.1.0") || !strings.Contains(got, "02-run.sh") {
		t.Errorf("history after the failure: %q", got)
	}
	b.shot("history")
	b.do("open its log", chromedp.Click(chromedp.CSS("#history-list li.run .log-button")))
	b.until("the script output", `document.querySelector("#history-list li.run pre.log").textContent.includes("table users is locked")`)
	b.shot("history-log")
	b.do("narrow window", chromedp.EmulateViewport(360, 740))
	b.noOverflow("history with a log open")

	failed := func() bool {
		for _, m := range h.messages() {
			if strings.Contains(m, "v1.1.0") && strings.Contains(m, "fail") {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(10 * time.Second); !failed(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.fatal("the failure was not notified; the webhook got %q", h.messages())
		}
	}

	b.do("send a test notification", chromedp.Click(chromedp.ID("notify-test")))
	b.until("sent", `document.getElementById("settings-status").textContent === "Test notification sent."`)
	if got := h.messages(); !strings.Contains(got[len(got)-1], "test notification") {
		t.Errorf("the webhook got %q", got)
	}
}
