package engine_test

import (
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
	url := releaserepo.ServeStalled(t)
	stall := config.Duration(config.MinStallTimeout)
	f.editConfig(func(c *config.Config) { c.Repo = url; c.StallTimeout = &stall })

	start := time.Now()
	r := f.hoist("apply", "--to", "v1.0.0")
	took := time.Since(start)
	if r.Code != 1 || !strings.Contains(r.Stderr, "stalled") {
		t.Fatalf("apply from a stalled server: %s", r)
	}
	if took < config.MinStallTimeout || took > 30*time.Second {
		t.Errorf("apply gave up after %s, want about %s", took, config.MinStallTimeout)
	}
	if st := f.status(); st.State != statusfile.Failed {
		t.Errorf("status %+v", st)
	}
}
