package tufrepo

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/testutil/nginx"
)

// Nodes poll timestamp.json with "changed since?" requests, which nginx
// answers from the file's mtime in whole seconds: a publish and a halt of
// its rollout in the same second must still be two changes to a node.
func TestQuickRewritesLookChangedToNginx(t *testing.T) {
	key, out := newKey(t), filepath.Join(t.TempDir(), "repo")
	publish := func(v string) {
		t.Helper()
		if _, err := Publish(context.Background(), tree(t, v, map[string]string{}), out, Options{Keys: Keys{Key: key}}); err != nil {
			t.Fatal(err)
		}
	}
	publish("1.0.0")
	srv := nginx.Start(t, out, "")
	url := srv.URL + "/" + MetadataDir + "/timestamp.json"
	etag, modified := get(t, url, "", "", http.StatusOK)
	for i, change := range []func(){
		func() { publish("1.1.0") },
		func() {
			if err := SetRollout(out, "v1.1.0", []byte(`{"percent":0}`), Options{Keys: Keys{Key: key}}); err != nil {
				t.Fatal(err)
			}
		},
		func() {
			if err := Refresh(out, Keys{Key: key}, time.Now(), 0); err != nil {
				t.Fatal(err)
			}
		},
	} {
		change()
		etag, modified = get(t, url, etag, modified, http.StatusOK)
		if i == 0 {
			get(t, url, etag, modified, http.StatusNotModified) // and unchanged is unchanged
		}
	}
}

// get asks for url with the validators given and checks the answer's
// status; it returns the answer's validators.
func get(t *testing.T, url, etag, modified string, want int) (string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
		req.Header.Set("If-Modified-Since", modified)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("GET %s (If-None-Match %s): %d, want %d", url, etag, resp.StatusCode, want)
	}
	if resp.StatusCode == http.StatusNotModified {
		return etag, modified
	}
	return resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
}
