package discovery

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/hoist-dev/hoist/internal/httpcache"
	"github.com/hoist-dev/hoist/internal/release"
	"github.com/hoist-dev/hoist/internal/tufrepo"
)

// TestStaticSource discovers releases from a static repository's targets
// metadata, and a check that finds nothing new costs one request.
func TestStaticSource(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k")
	if err := release.GenerateKey(key, ""); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "repo")
	for _, info := range []string{
		`{"version":"1.0.0","app":"demo","name":"Demo"}`,
		`{"version":"1.1.0","app":"demo","requires":">=1.0.0","rollout":{"percent":50}}`,
	} {
		src := t.TempDir()
		if err := os.WriteFile(filepath.Join(src, "info.json"), []byte(info), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := tufrepo.Publish(context.Background(), src, out, tufrepo.Options{Keys: tufrepo.Keys{Key: key + ".key"}}); err != nil {
			t.Fatal(err)
		}
	}
	var requests atomic.Int64
	files := http.FileServer(http.Dir(out))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		files.ServeHTTP(w, r)
	}))
	defer srv.Close()

	ctx := context.Background()
	src, err := Detect(ctx, srv.URL, "", httpcache.NewMemory())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := src.(*staticSource); !ok {
		t.Fatalf("Detect gave %T, want the static source", src)
	}
	tags, err := src.Tags(ctx)
	if err != nil || len(tags) != 2 || tags[1].String() != "1.1.0" {
		t.Fatalf("tags %v, %v", tags, err)
	}
	latest, err := src.Info(ctx, "")
	if err != nil || latest.Version != "1.1.0" || latest.Requires != ">=1.0.0" || string(latest.Rollout) != `{"percent":50}` {
		t.Errorf("latest %+v, %v", latest, err)
	}
	old, err := src.Info(ctx, "v1.0.0")
	if err != nil || old.Name != "Demo" {
		t.Errorf("v1.0.0 %+v, %v", old, err)
	}
	if _, err := src.Info(ctx, "v9.9.9"); err != ErrNoSuchRelease {
		t.Errorf("v9.9.9: %v", err)
	}
	before := requests.Load()
	if _, err := src.Info(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if n := requests.Load() - before; n != 1 {
		t.Errorf("a check with nothing new made %d requests, want 1", n)
	}
}
