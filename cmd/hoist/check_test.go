package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/testutil/nginx"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// hoist check keeps what it read under .hoist/, so a second run is a
// conditional request that nginx answers 304.
func TestCheckRunsAreConditional(t *testing.T) {
	site := t.TempDir()
	if err := os.MkdirAll(filepath.Join(site, "HEAD"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(site, "HEAD", "info.json"), []byte(`{"version":"1.1.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := nginx.Start(t, site, "")
	repo := releaserepo.New(t) // for its key only
	root := userRoot(t, srv.URL+"/{ref}/info.json", repo.PubFile, "1.0.0")
	for range 2 {
		if out, _ := userCmd(t, 0, "check", "--root", root); !strings.Contains(out, `"version":"1.1.0"`) {
			t.Fatalf("check: %s", out)
		}
	}
	reqs := srv.WaitRequests(2)
	if reqs[0].Status != http.StatusOK || reqs[1].Status != http.StatusNotModified || reqs[1].IfNoneMatch == "" {
		t.Errorf("nginx log %+v, want a 200 and then a conditional 304", reqs)
	}
}
