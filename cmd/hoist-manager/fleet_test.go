package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hoist-dev/hoist/internal/discovery"
	"github.com/hoist-dev/hoist/internal/manager/managertest"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// The real binary against a real repository whose newest release rolls out
// to 30 % of the nodes: a node inside gets it, a node outside is told it is
// up to date and why, and can still ask for it.
func TestProcessPhasedRollout(t *testing.T) {
	url := releaserepo.New(t,
		releaserepo.Release{Version: "1.0.0"},
		releaserepo.Release{Version: "1.1.0", Rollout: `{"percent":30}`},
	).ServeHTTP(t)
	for _, tt := range []struct {
		name   string
		inside bool
		want   string
	}{
		{"inside", true, `"version":"1.1.0"`},
		{"outside", false, `{"message":"up-to-date","phased":{"version":"1.1.0","percent":30,"bucket":`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := managertest.NewRoot(t, "1.0.0")
			id := managertest.WriteNodeID(t, root, func(id string) bool { return discovery.Bucket(id, "1.1.0") < 30 == tt.inside })
			p := startManager(t, root, url)
			if code, body := get(t, "GET", p.url+"/v1/system/get-update", testToken); code != http.StatusOK || !strings.HasPrefix(body, "{") || !strings.Contains(body, tt.want) {
				t.Errorf("get-update: %d %s, want %s", code, body, tt.want)
			}
			if _, body := get(t, "GET", p.url+"/v1/system/info", testToken); !strings.Contains(body, `"node_id":"`+id+`"`) {
				t.Errorf("info: %s, want node_id %s", body, id)
			}
			if code, body := get(t, "POST", p.url+"/v1/system/update", testToken); code != http.StatusOK || body != `{"message":"Updating to v1.1.0"}` {
				t.Errorf("manual update: %d %s", code, body)
			}
		})
	}
}

// The page says why a release is not offered yet and installs it on demand.
func TestPagePhased(t *testing.T) {
	ctx := browser(t)
	root := managertest.NewRoot(t, "1.0.0")
	managertest.WriteNodeID(t, root, func(id string) bool { return discovery.Bucket(id, "1.1.0") >= 30 })
	p := startManager(t, root, releaserepo.New(t,
		releaserepo.Release{Version: "1.0.0"},
		releaserepo.Release{Version: "1.1.0", Rollout: `{"percent":30}`},
	).FileURL())
	err := chromedp.Do(ctx,
		chromedp.Navigate(p.url),
		chromedp.SendKeys(chromedp.ID("token-input"), testToken),
		chromedp.Click(chromedp.ID("token-save")),
		chromedp.WaitVisible(chromedp.ID("update-button")),
	)
	if err != nil {
		t.Fatalf("page: %v\n%s", err, p.Log())
	}
	step, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("update-step")))
	button, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("update-button")))
	if !strings.Contains(step, "v1.1.0 is rolling out to 30 %; this node will get it later") || button != "Install now" {
		t.Fatalf("step %q, button %q", step, button)
	}
	if err := os.MkdirAll(shots, 0o755); err == nil {
		if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
			os.WriteFile(filepath.Join(shots, "manager-phased.png"), png, 0o644)
		}
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("update-button")),
		chromedp.WaitVisible(chromedp.ID("confirm-ok")),
		chromedp.Click(chromedp.ID("confirm-ok")),
		chromedp.WaitVisible(chromedp.ID("progress-dialog")),
	)
	if err != nil {
		t.Fatalf("install now: %v\n%s", err, p.Log())
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(root, "events/signals/update")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Install now requested no update\n%s", p.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
