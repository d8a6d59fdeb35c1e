package discovery

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/httpcache"
	"github.com/hoist-dev/hoist/internal/testutil/nginx"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// gitProxy sits in front of a git server, records each request
// ("GET /releases/info/refs") and answers every request with refuse's status
// and headers while refuse is set.
type gitProxy struct {
	mu      sync.Mutex
	seen    []string
	refuse  int
	headers map[string]string
}

func serveGitProxy(t *testing.T, upstream string) (*gitProxy, string) {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	p := &gitProxy{}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen = append(p.seen, r.Method+" "+r.URL.Path)
		code, headers := p.refuse, p.headers
		p.mu.Unlock()
		if code != 0 {
			for k, v := range headers {
				w.Header().Set(k, v)
			}
			w.WriteHeader(code)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return p, srv.URL + u.Path
}

// requests returns and forgets the requests seen so far.
func (p *gitProxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.seen
	p.seen = nil
	return out
}

func (p *gitProxy) setRefuse(code int, headers map[string]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse, p.headers = code, headers
}

// When the refs did not change, a check of a git repository is one ref
// advertisement and nothing else, also in a new process (a Dir store).
func TestGitCheckIsOneAdvertisement(t *testing.T) {
	repo := releaserepo.New(t, releaserepo.Release{Version: "1.0.0"}, releaserepo.Release{Version: "1.1.0"})
	proxy, u := serveGitProxy(t, repo.ServeHTTP(t))
	dir, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	ctx := context.Background()
	check := func(want string) {
		t.Helper()
		// A new Source each time: what a one-shot `hoist check` does.
		src, err := OpenStore(u, "", httpcache.NewDir(dir, 64<<10))
		if err != nil {
			t.Fatal(err)
		}
		got, err := NewFinder(src, 0, 0).Next(ctx, v("1.0.0"))
		if err != nil || got == nil || got.Version != want {
			t.Fatalf("Next = %+v, %v; want %s", got, err, want)
		}
	}
	advert := "GET /releases/info/refs"
	check("1.1.0")
	if got := proxy.requests(); len(got) < 2 {
		t.Fatalf("first check: requests %q, want an advertisement and a fetch", got)
	}
	for range 2 {
		check("1.1.0")
		if got := proxy.requests(); len(got) != 1 || got[0] != advert {
			t.Fatalf("unchanged check: requests %q, want [%s]", got, advert)
		}
	}
	repo.Add(t, releaserepo.Release{Version: "1.2.0"})
	check("1.2.0")
	if got := proxy.requests(); len(got) < 2 {
		t.Fatalf("check after a release: requests %q, want a fetch too", got)
	}
	check("1.2.0")
	if got := proxy.requests(); len(got) != 1 {
		t.Fatalf("unchanged check: requests %q, want [%s]", got, advert)
	}
}

// A tag read by name is remembered by its peeled commit too.
func TestGitTagInfoRemembered(t *testing.T) {
	repo := releaserepo.New(t, releaserepo.Release{Version: "1.0.0"}, releaserepo.Release{Version: "1.1.0", Lightweight: true}, releaserepo.Release{Version: "1.2.0"})
	proxy, u := serveGitProxy(t, repo.ServeHTTP(t))
	src, err := Open(u, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"v1.1.0", "v1.2.0"} {
		for i := range 2 {
			info, err := src.Info(context.Background(), ref)
			if err != nil || info.Tag() != ref {
				t.Fatalf("Info(%s) = %+v, %v", ref, info, err)
			}
			if got := proxy.requests(); i == 1 && len(got) != 1 {
				t.Errorf("second Info(%s): requests %q, want one advertisement", ref, got)
			}
		}
	}
	if _, err := src.Info(context.Background(), "v9.0.0"); err == nil {
		t.Error("Info of a missing tag succeeded")
	}
}

// A 429 or 503 with Retry-After, from a git server or a template server,
// reaches the check loop through the Finder's error.
func TestRetryAfterReachesCaller(t *testing.T) {
	repo := releaserepo.New(t, releaserepo.Release{Version: "1.0.0"})
	proxy, gitURL := serveGitProxy(t, repo.ServeHTTP(t))
	tmplProxy, tmplURL := serveGitProxy(t, serveTemplate(t, []releaserepo.Release{{Version: "1.0.0"}})+"/")
	date := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		code    int
		headers map[string]string
		wait    time.Duration
		ok      bool
	}{
		{"503 seconds", http.StatusServiceUnavailable, map[string]string{"Retry-After": "120"}, 2 * time.Minute, true},
		{"429 date", http.StatusTooManyRequests, map[string]string{"Retry-After": date.Add(time.Hour).Format(http.TimeFormat), "Date": date.Format(http.TimeFormat)}, time.Hour, true},
		{"503 bare", http.StatusServiceUnavailable, nil, 0, false},
		{"500", http.StatusInternalServerError, map[string]string{"Retry-After": "120"}, 0, false},
	} {
		for src, u := range map[string]string{"git": gitURL, "template": tmplURL + "{ref}/info.json"} {
			t.Run(tc.name+" "+src, func(t *testing.T) {
				proxy.setRefuse(tc.code, tc.headers)
				tmplProxy.setRefuse(tc.code, tc.headers)
				s, err := Open(u, "")
				if err != nil {
					t.Fatal(err)
				}
				_, err = NewFinder(s, 0, 0).Next(context.Background(), nil)
				if err == nil {
					t.Fatal("Next succeeded against a refusing server")
				}
				wait, ok := httpcache.ServerWait(err)
				if wait != tc.wait || ok != tc.ok {
					t.Errorf("ServerWait(%v) = %v, %v; want %v, %v", err, wait, ok, tc.wait, tc.ok)
				}
			})
		}
	}
}

// A URL template served by nginx: an unchanged info.json is a 304.
func TestTemplateConditionalAgainstNginx(t *testing.T) {
	root := t.TempDir()
	write := func(body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(root, "HEAD"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "HEAD", "info.json"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"version":"1.1.0"}`)
	srv := nginx.Start(t, root, "")
	src, err := Open(srv.URL+"/{ref}/info.json", "")
	if err != nil {
		t.Fatal(err)
	}
	f := NewFinder(src, 0, 0)
	next := func(want string) {
		t.Helper()
		u, err := f.Next(context.Background(), v("1.0.0"))
		if err != nil || u == nil || u.Version != want {
			t.Fatalf("Next = %+v, %v; want %s", u, err, want)
		}
	}
	next("1.1.0")
	next("1.1.0")
	// A new mtime and size: nginx's ETag changes.
	write(`{"version":"1.2.0" }`)
	os.Chtimes(filepath.Join(root, "HEAD", "info.json"), time.Time{}, time.Now().Add(time.Minute))
	next("1.2.0")
	var statuses []int
	for _, r := range srv.WaitRequests(3) {
		statuses = append(statuses, r.Status)
		if r.Status == http.StatusNotModified && r.IfNoneMatch == "" {
			t.Errorf("a 304 without If-None-Match: %+v", r)
		}
	}
	if want := []int{200, 304, 200}; len(statuses) != 3 || statuses[0] != want[0] || statuses[1] != want[1] || statuses[2] != want[2] {
		t.Errorf("nginx statuses = %v, want %v", statuses, want)
	}
}
