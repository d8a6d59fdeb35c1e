package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-version"

	"github.com/hoist-dev/hoist/internal/httpcache"
	"github.com/hoist-dev/hoist/internal/release"
	"github.com/hoist-dev/hoist/internal/tufclient"
	"github.com/hoist-dev/hoist/internal/tufrepo"
)

// staticRepo publishes a release per info.json into a new static
// repository served over HTTP, and returns its directory, key and URL.
func staticRepo(t *testing.T, infos ...string) (out, key, url string) {
	t.Helper()
	dir := t.TempDir()
	if err := release.GenerateKey(filepath.Join(dir, "k"), ""); err != nil {
		t.Fatal(err)
	}
	key, out = filepath.Join(dir, "k.key"), filepath.Join(dir, "repo")
	for _, info := range infos {
		src := t.TempDir()
		if err := os.WriteFile(filepath.Join(src, "info.json"), []byte(info), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := tufrepo.Publish(context.Background(), src, out, tufrepo.Options{Keys: tufrepo.Keys{Key: key}}); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(out)))
	t.Cleanup(srv.Close)
	return out, key, srv.URL
}

// openStatic is a node's static source on url, trusting the served root.
func openStatic(t *testing.T, out, url string) Source {
	t.Helper()
	root, err := os.ReadFile(filepath.Join(out, tufrepo.MetadataDir, "root.json"))
	if err != nil {
		t.Fatal(err)
	}
	return OpenStatic(tufclient.Options{URL: url, Root: root}, httpcache.NewMemory())
}

// TestStaticRollout: a rollout published with the release, then re-signed
// by tufrepo.SetRollout, phases the nodes reading the static repository's
// metadata; targets changed without the key are refused.
func TestStaticRollout(t *testing.T) {
	out, key, url := staticRepo(t,
		`{"version":"1.0.0","app":"demo"}`,
		`{"version":"1.1.0","app":"demo","rollout":{"percent":10}}`)
	ctx := context.Background()
	installed := version.Must(version.NewVersion("1.0.0"))
	// held returns the share, in %, of 2,000 node ids the rollout holds.
	held := func() (float64, error) {
		u, err := NewFinder(openStatic(t, out, url), 0, 0).Next(ctx, installed)
		if err != nil {
			return 0, err
		}
		if u == nil || u.Version != "1.1.0" {
			t.Fatalf("Next = %+v", u)
		}
		n := 0
		for i := range 2000 {
			if Hold(u, fmt.Sprintf("%032x", i), time.Now()) != nil {
				n++
			}
		}
		return float64(n) / 20, nil
	}
	for _, tc := range []struct {
		rollout    string // "": as published
		heldLo, hi float64
	}{
		{"", 88, 92},
		{`{"percent":0}`, 100, 100},
		{`{"start":"` + time.Now().Add(-36*time.Hour).UTC().Format(time.RFC3339) + `","days":2}`, 22, 28},
		{`{"percent":100}`, 0, 0},
		{`{"percent":0}`, 100, 100},
	} {
		if tc.rollout != "" {
			if err := tufrepo.SetRollout(out, "v1.1.0", json.RawMessage(tc.rollout), tufrepo.Options{Keys: tufrepo.Keys{Key: key}}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := held()
		if err != nil {
			t.Fatalf("rollout %s: %v", tc.rollout, err)
		}
		if got < tc.heldLo || got > tc.hi {
			t.Errorf("rollout %s: %.2f %% of nodes held, want %g-%g", tc.rollout, got, tc.heldLo, tc.hi)
		}
	}

	// Someone with write access to the server but not the key turns the
	// halted rollout back to 100 %: the node refuses the targets.
	name := newestTargets(t, out)
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Replace(data, []byte(`"percent": 0`), []byte(`"percent": 100`), 1)
	if bytes.Equal(tampered, data) {
		t.Fatalf("no rollout to tamper with in %s", name)
	}
	if err := os.WriteFile(name, tampered, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := held(); !errors.Is(err, tufclient.ErrUntrusted) {
		t.Errorf("tampered targets: %v, want ErrUntrusted", err)
	}
}

// newestTargets is the path of the repository's newest N.targets.json.
func newestTargets(t *testing.T, out string) string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(out, tufrepo.MetadataDir, "*.targets.json"))
	if err != nil {
		t.Fatal(err)
	}
	best, newest := "", -1
	for _, name := range names {
		n, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(name), ".targets.json"))
		if err == nil && n > newest {
			best, newest = name, n
		}
	}
	return best
}

// TestStaticChangelog: info.json's changelog reaches Info and the Update
// from a static repository's metadata; only an http(s) link is passed on.
func TestStaticChangelog(t *testing.T) {
	out, _, url := staticRepo(t,
		`{"version":"1.0.0","app":"demo","changelog":"javascript:alert(1)"}`,
		`{"version":"1.1.0","app":"demo","changelog":"https://example.com/changes/1.1.0"}`)
	ctx := context.Background()
	src := openStatic(t, out, url)
	info, err := src.Info(ctx, "v1.1.0")
	if err != nil || info.Changelog != "https://example.com/changes/1.1.0" {
		t.Errorf("v1.1.0: changelog %q, %v", info.Changelog, err)
	}
	u, err := NewFinder(src, 0, 0).Next(ctx, nil)
	if err != nil || u == nil || u.Changelog != "https://example.com/changes/1.1.0" {
		t.Errorf("Next = %+v, %v", u, err)
	}
	old, err := src.Info(ctx, "v1.0.0")
	if err != nil || old.changelog() != "" {
		t.Errorf("v1.0.0: changelog %q passed on, %v", old.changelog(), err)
	}
}

// TestStaticRolloutUnderBeta: in a static repository each release carries
// its own rollout, so a stable release is phased for stable nodes also
// when a newer beta is published (in git only the default branch's is).
func TestStaticRolloutUnderBeta(t *testing.T) {
	out, _, url := staticRepo(t,
		`{"version":"1.0.0","app":"demo"}`,
		`{"version":"1.1.0","app":"demo","rollout":{"percent":0}}`,
		`{"version":"1.2.0","app":"demo","channel":"beta"}`)
	ctx := context.Background()
	finder := NewFinder(openStatic(t, out, url), 0, 0)
	installed := version.Must(version.NewVersion("1.0.0"))
	stable, err := finder.NextOn(ctx, installed, false)
	if err != nil || stable == nil || stable.Version != "1.1.0" {
		t.Fatalf("stable: %+v, %v", stable, err)
	}
	if Hold(stable, fmt.Sprintf("%032x", 1), time.Now()) == nil {
		t.Error("a stable node got v1.1.0, halted at 0 %, because a beta is newer")
	}
	beta, err := finder.NextOn(ctx, installed, true)
	if err != nil || beta == nil || beta.Version != "1.2.0" || Hold(beta, fmt.Sprintf("%032x", 1), time.Now()) != nil {
		t.Errorf("beta: %+v, %v; want v1.2.0, not phased", beta, err)
	}
}
