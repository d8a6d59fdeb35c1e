package manager

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/manager/managertest"
	"github.com/hoist-dev/hoist/internal/release"
	"github.com/hoist-dev/hoist/internal/tufrepo"
)

// TestStaticRepoMetadataExpiry: a manager reading a static repository
// finds its update and exports when the repository's metadata expires.
func TestStaticRepoMetadataExpiry(t *testing.T) {
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
	s := start(t, managertest.NewRoot(t, "1.0.0"), "file://"+site, options{})
	if code, _, body := call(t, "GET", s.url+"/v1/system/get-update", testToken, ""); code != 200 || !strings.Contains(body, `"version":"1.1.0"`) {
		t.Fatalf("get-update: %d %s", code, body)
	}
	_, _, body := call(t, "GET", s.url+"/metrics", testToken, "")
	if !strings.Contains(body, "\nhoist_manager_release_metadata_expiry_timestamp_seconds ") {
		t.Errorf("no metadata expiry in /metrics:\n%s", body)
	}
}
