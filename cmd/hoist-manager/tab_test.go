package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// tab drives one Chromium tab against a manager process. Every state the
// test reaches is saved as a screenshot under a temporary directory, which
// is kept, and named in the log, when the test fails.
type tab struct {
	t     *testing.T
	ctx   context.Context
	p     *process
	shots string
	n     int // screenshots taken, to number them in order

	mu     sync.Mutex // guards errors
	errors []string   // uncaught exceptions and errors in the page's console
}

func newTab(t *testing.T, p *process) *tab {
	t.Helper()
	ctx := browser(t)
	// Open the tab now, under the test's context: a step's shorter one
	// would close the tab when it ends.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	dir, err := os.MkdirTemp("", "hoist-page-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("screenshots of each state: %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	b := &tab{t: t, ctx: ctx, p: p, shots: dir}
	// A script error (an exception, a CSP refusal) fails the test even when
	// the page looks right. Refused requests are the API's answers, which
	// the page handles, so the network's messages are left out.
	console := chromedp.Console(ctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError && m.Source != "network" {
				b.mu.Lock()
				b.errors = append(b.errors, m.String())
				b.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if len(b.errors) > 0 {
			t.Errorf("the page's console has errors:\n%s", strings.Join(b.errors, "\n"))
		}
	})
	return b
}

// fatal saves what the page shows, then ends the test with the manager's log.
func (b *tab) fatal(format string, args ...any) {
	b.t.Helper()
	b.shot("failed")
	b.t.Fatalf(format+"\nmanager log:\n%s", append(args, b.p.Log())...)
}

// stepTimeout bounds one step, so that a step that never ends leaves the
// tab alive for the screenshot of what it shows.
const stepTimeout = 20 * time.Second

func (b *tab) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, stepTimeout)
}

func (b *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fatal("%s: %v", what, err)
	}
}

// text is the visible text of the element with id.
func (b *tab) text(id string) string {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		b.fatal("text of #%s: %v", id, err)
	}
	return strings.TrimSpace(s)
}

// until waits for a JavaScript condition on the page.
func (b *tab) until(what, js string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		b.fatal("waiting for %s (%s): %v", what, js, err)
	}
}

// click clicks the element with id and waits for the element with then.
func (b *tab) click(id, then string) {
	b.t.Helper()
	b.do("click #"+id, chromedp.Click(chromedp.ID(id)), chromedp.WaitVisible(chromedp.ID(then)))
}

// shot saves a screenshot of the whole page as NN-name.png.
func (b *tab) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	b.n++
	if err := os.WriteFile(filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.n, name)), png, 0o644); err != nil {
		b.t.Error(err)
	}
}

// noOverflow fails the test when the page scrolls sideways.
func (b *tab) noOverflow(state string) {
	b.t.Helper()
	widths, err := chromedp.Run(b.ctx, chromedp.Evaluate[[2]int](`[document.documentElement.scrollWidth, document.documentElement.clientWidth]`))
	if err != nil {
		b.fatal("page width: %v", err)
	}
	if widths[0] > widths[1] {
		b.shot("overflow-" + state)
		b.t.Errorf("%s: the page is %d px wide in a %d px window: it scrolls sideways", state, widths[0], widths[1])
	}
}

// apiJSON calls the manager with the token and decodes its JSON answer
// into v, failing the test on anything but 2xx.
func apiJSON(t *testing.T, p *process, method, path, body string, v any) {
	t.Helper()
	req, err := http.NewRequest(method, p.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
}
