package manager

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/manager/managertest"
	"github.com/hoist-dev/hoist/internal/release"
	"github.com/hoist-dev/hoist/internal/tufclient"
	"github.com/hoist-dev/hoist/internal/tufrepo"
)

// TestStaticRepoMetadataExpiry: a manager reading a static repository
// finds its update and exports when the repository's metadata expires.
func TestStaticRepoMetadataExpiry(t *testing.T) {
	root := managertest.NewRoot(t, "1.0.0")
	s := start(t, root, staticSite(t, root), options{})
	if code, _, body := call(t, "GET", s.url+"/v1/system/get-update", testToken, ""); code != 200 || !strings.Contains(body, `"version":"1.1.0"`) {
		t.Fatalf("get-update: %d %s", code, body)
	}
	_, _, body := call(t, "GET", s.url+"/metrics", testToken, "")
	if !strings.Contains(body, "\nhoist_manager_release_metadata_expiry_timestamp_seconds ") {
		t.Errorf("no metadata expiry in /metrics:\n%s", body)
	}
}

// staticSite publishes releases 1.0.0 and 1.1.0 into a static repository,
// pins its root for the manager of the app root root as hoist init does,
// and returns its file:// URL.
func staticSite(t *testing.T, root string) string {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "k")
	if err := release.GenerateKey(key, ""); err != nil {
		t.Fatal(err)
	}
	site := filepath.Join(dir, "site")
	for _, v := range []string{"1.0.0", "1.1.0"} {
		src := t.TempDir()
		writeFile(t, filepath.Join(src, "info.json"), `{"version":"`+v+`","app":"demo"}`)
		if _, err := tufrepo.Publish(context.Background(), src, site, tufrepo.Options{Keys: tufrepo.Keys{Key: key + ".key"}}); err != nil {
			t.Fatal(err)
		}
	}
	pinned, err := os.ReadFile(filepath.Join(site, "metadata", "1.root.json"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "statuses", tufclient.PublishedRoot), string(pinned))
	return "file://" + site
}
