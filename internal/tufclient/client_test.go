package tufclient

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/hoist-dev/hoist/internal/objfetch"
	"github.com/hoist-dev/hoist/internal/release"
	"github.com/hoist-dev/hoist/internal/tufrepo"
)

// fixture is a static repository served over HTTP and a node's trust dir
// bootstrapped from its first root.
type fixture struct {
	out, key, node, url string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureKey(t, newKey(t), time.Now())
}

// newFixtureKey is newFixture with the minisign key and the time of the
// first publish given.
func newFixtureKey(t *testing.T, key string, now time.Time) *fixture {
	t.Helper()
	f := &fixture{out: filepath.Join(t.TempDir(), "repo"), key: key, node: filepath.Join(t.TempDir(), "tuf")}
	f.publish(t, "1.0.0", now, 0)
	root, err := os.ReadFile(filepath.Join(f.out, "metadata", "root.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Bootstrap(f.node, root); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(f.out)))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *fixture) publish(t *testing.T, v string, now time.Time, expires time.Duration) {
	t.Helper()
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "info.json"), []byte(`{"version":"`+v+`","app":"demo","requires":">=1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "f.txt"), []byte(v), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := tufrepo.Publish(context.Background(), src, f.out, tufrepo.Options{Keys: tufrepo.Keys{Key: f.key}, Now: now, Expires: expires}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) refresh(t *testing.T) (*Client, error) {
	t.Helper()
	return Refresh(context.Background(), Options{URL: f.url, Dir: f.node})
}

func newKey(t *testing.T) string {
	t.Helper()
	prefix := filepath.Join(t.TempDir(), "k")
	if err := release.GenerateKey(prefix, ""); err != nil {
		t.Fatal(err)
	}
	return prefix + ".key"
}

func tags(c *Client) string {
	var s []string
	for _, r := range c.Releases() {
		s = append(s, r.Tag()+" "+r.Requires)
	}
	return strings.Join(s, ",")
}

func TestRefreshListsReleasesAndTargets(t *testing.T) {
	f := newFixture(t)
	f.publish(t, "1.1.0", time.Now(), 0)
	c, err := f.refresh(t)
	if err != nil {
		t.Fatal(err)
	}
	if got := tags(c); got != "v1.0.0 >=1.0.0,v1.1.0 >=1.0.0" {
		t.Errorf("releases %q", got)
	}
	// The timestamp (30 days by default) expires first.
	if d := time.Until(c.Expires()); d < 29*24*time.Hour || d > 30*24*time.Hour {
		t.Errorf("metadata expires in %s, want the timestamp's 30 days", d)
	}
	tg, err := c.Target("v1.1.0/hoist-release.json")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(f.out, "targets", "v1.1.0", "hoist-release.json"))
	if err != nil {
		t.Fatal(err)
	}
	if tg.URL != f.url+"/targets/v1.1.0/hoist-release.json" || tg.Length != int64(len(data)) || len(tg.SHA256) != 64 {
		t.Errorf("target %+v", tg)
	}
	if _, err := c.Target("v9.0.0/info.json"); !errors.Is(err, ErrNoTarget) {
		t.Errorf("missing target: %v", err)
	}
	if st, err := os.Stat(f.node); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("trust dir mode: %v, %v", st.Mode(), err)
	}
}

func TestRefreshRefuses(t *testing.T) {
	tests := []struct {
		name string
		// attack changes the served repository after a first refresh.
		attack func(t *testing.T, f *fixture)
		want   string
	}{
		{"rolled-back timestamp", func(t *testing.T, f *fixture) {
			old := readFile(t, f.out, "metadata/timestamp.json")
			f.publish(t, "1.1.0", time.Now(), 0)
			if _, err := f.refresh(t); err != nil {
				t.Fatal(err)
			}
			writeFile(t, f.out, "metadata/timestamp.json", old)
		}, "version"},
		{"expired timestamp", func(t *testing.T, f *fixture) {
			f.publish(t, "1.1.0", time.Now().Add(-2*time.Hour), time.Hour)
		}, "release metadata expired on "},
		{"tampered targets", func(t *testing.T, f *fixture) {
			p := "metadata/1.targets.json"
			writeFile(t, f.out, p, strings.Replace(readFile(t, f.out, p), "demo", "evil", 1))
			os.RemoveAll(filepath.Join(f.node, "targets.json"))
			os.RemoveAll(filepath.Join(f.node, "snapshot.json"))
		}, "targets"},
		{"root signed by another key", func(t *testing.T, f *fixture) {
			other := newKey(t)
			if err := tufrepo.RotateRoot(f.out, other, tufrepo.Keys{Key: other}, time.Now(), 0); err == nil {
				t.Fatal("a foreign key rotated the root")
			}
			writeFile(t, f.out, "metadata/2.root.json", readFile(t, f.out, "metadata/1.root.json"))
		}, "version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if _, err := f.refresh(t); err != nil {
				t.Fatal(err)
			}
			trusted := readFile(t, f.node, "root.json")
			tt.attack(t, f)
			_, err := f.refresh(t)
			if !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("refresh: %v, want an error containing %q", err, tt.want)
			}
			if readFile(t, f.node, "root.json") != trusted {
				t.Error("the trusted root changed")
			}
		})
	}
}

// TestBootstrapAnotherRepository: pinning the root of another repository
// drops what was trusted under the old one, whose higher versions would
// otherwise read as a rollback of the new repository.
func TestBootstrapAnotherRepository(t *testing.T) {
	f := newFixture(t)
	for range 3 {
		if err := tufrepo.Refresh(f.out, tufrepo.Keys{Key: f.key}, time.Now(), 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.refresh(t); err != nil { // trusts timestamp version 4
		t.Fatal(err)
	}
	// The same key, another root (another expiry), timestamp version 1.
	other := newFixtureKey(t, f.key, time.Now().Add(time.Hour))
	if err := Bootstrap(f.node, []byte(readFile(t, other.out, "metadata/root.json"))); err != nil {
		t.Fatal(err)
	}
	other.node = f.node
	c, err := other.refresh(t)
	if err != nil {
		t.Fatalf("refresh after pinning another repository: %v", err)
	}
	if got := tags(c); got != "v1.0.0 >=1.0.0" {
		t.Errorf("releases %q", got)
	}
}

// TestRootRotation: a node trusting key1's root follows a rotation to
// key2 signed by both, then trusts only key2.
func TestRootRotation(t *testing.T) {
	f := newFixture(t)
	key2 := newKey(t)
	if err := tufrepo.RotateRoot(f.out, f.key, tufrepo.Keys{Key: key2}, time.Now(), 0); err != nil {
		t.Fatal(err)
	}
	old := f.key
	f.key = key2
	f.publish(t, "1.1.0", time.Now(), 0)
	c, err := f.refresh(t)
	if err != nil {
		t.Fatal(err)
	}
	if got := tags(c); !strings.Contains(got, "v1.1.0") {
		t.Errorf("after rotation, releases %q", got)
	}
	if !strings.Contains(readFile(t, f.node, "root.json"), `"version": 2`) {
		t.Error("the node did not adopt root version 2")
	}
	f.key = old
	src := t.TempDir()
	writeFile(t, src, "info.json", `{"version":"1.2.0","app":"demo"}`)
	if _, err := tufrepo.Publish(context.Background(), src, f.out, tufrepo.Options{Keys: tufrepo.Keys{Key: old}}); err == nil {
		t.Error("the rotated-out key still publishes")
	}
}

func TestFetcherRetriesTransientOnly(t *testing.T) {
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		switch r.URL.Path {
		case "/flaky":
			if calls < 3 {
				w.WriteHeader(http.StatusBadGateway)
				return
			}
			w.Write([]byte("ok"))
		case "/big":
			w.Write([]byte(strings.Repeat("x", 100)))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	f := &fetcher{ctx: context.Background(), client: objfetch.New(objfetch.Options{HTTP: srv.Client(), Retries: 5, MinBackoff: time.Millisecond})}
	if data, err := f.DownloadFile(srv.URL+"/flaky", 10, 0); err != nil || string(data) != "ok" {
		t.Errorf("flaky: %q, %v", data, err)
	}
	calls = 0
	_, err := f.DownloadFile(srv.URL+"/2.root.json", 10, 0)
	var httpErr *metadata.ErrDownloadHTTP
	if !errors.As(err, &httpErr) || httpErr.StatusCode != http.StatusNotFound || calls != 1 {
		t.Errorf("404: %v after %d requests, want go-tuf's 404 after one request", err, calls)
	}
	if _, err := f.DownloadFile(srv.URL+"/big", 10, 0); !errors.Is(err, &metadata.ErrDownloadLengthMismatch{}) {
		t.Errorf("an answer over maxLength: %v", err)
	}
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A server redirecting to file:// gets an error, not a local file's bytes.
func TestRedirectToFileIsRefused(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("local secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.RedirectHandler("file://"+secret, http.StatusFound))
	defer srv.Close()
	resp, err := NewHTTPClient(5 * time.Second).Get(srv.URL + "/metadata/timestamp.json")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("redirect to file:// followed: %q", body)
	}
	if !strings.Contains(err.Error(), "only http and https") {
		t.Errorf("error %v does not say why", err)
	}
}
