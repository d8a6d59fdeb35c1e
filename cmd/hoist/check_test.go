package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	// nginx logs a request just after answering it; hoist init's probe for
	// a static repository is not one of ours.
	var reqs []nginx.Request
	for deadline := time.Now().Add(5 * time.Second); len(reqs) < 2 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		reqs = reqs[:0]
		for _, r := range srv.Requests() {
			if r.URI == "/HEAD/info.json" {
				reqs = append(reqs, r)
			}
		}
	}
	if len(reqs) != 2 || reqs[0].Status != http.StatusOK || reqs[1].Status != http.StatusNotModified || reqs[1].IfNoneMatch == "" {
		t.Errorf("nginx log %+v, want a 200 and then a conditional 304", reqs)
	}
}
