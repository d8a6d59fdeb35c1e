package discovery

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-version"

	"github.com/hoist-dev/hoist/internal/httpcache"
)

// TestStaticSource discovers releases from a static repository's targets
// metadata, and a check that finds nothing new costs one request.
func TestStaticSource(t *testing.T) {
	out, _, _ := staticRepo(t,
		`{"version":"1.0.0","app":"demo","name":"Demo"}`,
		`{"version":"1.1.0","app":"demo","requires":">=1.0.0","rollout":{"percent":50}}`,
		`{"version":"2.0.0","app":"demo","requires":">=1.1.0"}`,
	)
	var requests atomic.Int64
	var down atomic.Bool // the server answers 503 to everything
	down.Store(true)
	files := http.FileServer(http.Dir(out))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		files.ServeHTTP(w, r)
	}))
	defer srv.Close()

	ctx := context.Background()
	src, err := Detect(srv.URL, "", httpcache.NewMemory(), firstRoot(out))
	if err != nil {
		t.Fatal(err)
	}
	// A server that cannot answer yet leaves the kind open.
	if _, err := src.Tags(ctx); err == nil {
		t.Fatal("tags from a server answering 503")
	}
	down.Store(false)
	tags, err := src.Tags(ctx)
	if err != nil || len(tags) != 3 || tags[2].String() != "2.0.0" {
		t.Fatalf("tags %v, %v", tags, err)
	}
	if s := src.(*detecting).settled(); s == nil {
		t.Fatal("the kind of repository is still open")
	} else if _, ok := s.(*staticSource); !ok {
		t.Fatalf("settled on %T, want the static source", s)
	}
	latest, err := src.Info(ctx, "")
	if err != nil || latest.Version != "2.0.0" || latest.Requires != ">=1.1.0" {
		t.Errorf("latest %+v, %v", latest, err)
	}
	mid, err := src.Info(ctx, "v1.1.0")
	if err != nil || mid.Requires != ">=1.0.0" || string(mid.Rollout) != `{"percent":50}` {
		t.Errorf("v1.1.0 %+v, %v", mid, err)
	}
	// The requires walk: 1.0.0 must step through 1.1.0 to reach 2.0.0.
	u, err := NewFinder(src, 0, 0).Next(ctx, version.Must(version.NewVersion("1.0.0")))
	if err != nil || u == nil || u.Version != "1.1.0" || !u.Intermediate || u.Latest != "2.0.0" {
		t.Errorf("next from 1.0.0: %+v, %v", u, err)
	}
	old, err := src.Info(ctx, "v1.0.0")
	if err != nil || old.Name != "Demo" {
		t.Errorf("v1.0.0 %+v, %v", old, err)
	}
	if _, err := src.Info(ctx, "v9.9.9"); err != ErrNoSuchRelease {
		t.Errorf("v9.9.9: %v", err)
	}
	finder := NewFinder(src, 0, 0)
	if exp, ok := finder.MetadataExpires(); !ok || time.Until(exp) < 29*24*time.Hour {
		t.Errorf("metadata expiry %s, %v; want the timestamp's 30 days", exp, ok)
	}
	before := requests.Load()
	if _, err := src.Info(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if n := requests.Load() - before; n != 1 {
		t.Errorf("a check with nothing new made %d requests, want 1", n)
	}
}

// firstRoot is the pinned root of Detect for the repository site: its
// first root, as hoist init pinned it.
func firstRoot(site string) func() ([]byte, error) {
	return func() ([]byte, error) { return os.ReadFile(filepath.Join(site, "metadata", "1.root.json")) }
}

// Detect verifies a static repository from the pinned root only: a server
// serving another publisher's repository (its own root.json) is refused,
// and without a pinned root nothing is trusted, and nothing settled.
func TestDetectTrustsOnlyThePinnedRoot(t *testing.T) {
	ours, _, _ := staticRepo(t, `{"version":"1.0.0","app":"demo"}`)
	theirs, _, url := staticRepo(t, `{"version":"1.0.0","app":"demo"}`, `{"version":"9.0.0","app":"demo"}`)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		pinned func() ([]byte, error)
		want   string
	}{
		{"another root", firstRoot(ours), "refused"},
		{"no pinned root", PublishedRoot(t.TempDir()), "trusted root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := Detect(url, "", httpcache.NewMemory(), tc.pinned)
			if err != nil {
				t.Fatal(err)
			}
			tags, err := src.Tags(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("tags %v, err %v; want an error saying %q", tags, err, tc.want)
			}
		})
	}
	src, err := Detect(url, "", httpcache.NewMemory(), firstRoot(theirs))
	if err != nil {
		t.Fatal(err)
	}
	if tags, err := src.Tags(ctx); err != nil || len(tags) != 2 {
		t.Fatalf("with their own root pinned: tags %v, %v", tags, err)
	}
}
