package engine_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/config"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// TestStallTimeoutFromConfig: stall_timeout in config.json is what aborts
// a download from a server that stops sending (the default is 2 minutes).
func TestStallTimeoutFromConfig(t *testing.T) {
	f := newFixture(t, releaserepo.DefaultReleases()...)
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		// The start of a ref advertisement, then nothing.
		w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
		w.Write([]byte("001e# service=git-upload-pack\n"))
		w.(http.Flusher).Flush()
		select {
		case <-req.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) })
	stall := config.Duration(config.MinStallTimeout)
	f.editConfig(func(c *config.Config) { c.Repo = srv.URL + "/repo"; c.StallTimeout = &stall })

	start := time.Now()
	r := f.hoist("apply", "--to", "v1.0.0")
	took := time.Since(start)
	if r.code != 1 || !strings.Contains(r.stderr, "stalled") {
		t.Fatalf("apply from a stalled server: %s", r)
	}
	if took < config.MinStallTimeout || took > 30*time.Second {
		t.Errorf("apply gave up after %s, want about %s", took, config.MinStallTimeout)
	}
	if st := f.status(); st.State != statusfile.Failed {
		t.Errorf("status %+v", st)
	}
}
