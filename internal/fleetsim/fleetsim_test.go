package fleetsim

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// A small fleet on a fast clock: the counts at the server are those of
// polite checks, and a percent-10 rollout reaches about a tenth.
func TestStaticFleet(t *testing.T) {
	if _, err := os.Stat(NginxBin); err != nil {
		t.Skip("nginx not installed")
	}
	res, err := Static(context.Background(), Options{Nodes: 400, Work: t.TempDir(), Factor: 5000, Steady: 3 * time.Hour, Seed: 1})
	if err != nil {
		t.Fatalf("%v (%+v)", err, res)
	}
	t.Logf("%+v", res)
	if r := res.RequestsPerNodeHour(); r < 0.85 || r > 1.15 {
		t.Errorf("%.2f requests per node-hour, want about 1", r)
	}
	if n := res.Steady.Status[304]; n != res.Steady.Requests {
		t.Errorf("%d of %d steady requests were 304s, want all", n, res.Steady.Requests)
	}
	if res.BytesPerNodeHour() >= float64(res.Baseline) {
		t.Errorf("%.0f bytes per node-hour, no fewer than a naive GET's %d", res.BytesPerNodeHour(), res.Baseline)
	}
	// 400 nodes: 10 % ± 3 standard deviations (1.5 %).
	if res.Downloaded < 22 || res.Downloaded > 58 {
		t.Errorf("%d of 400 nodes downloaded a 10 %% rollout", res.Downloaded)
	}
	if res.Failures != 0 {
		t.Errorf("%d failed checks", res.Failures)
	}
}

func TestGitFleet(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	res, err := Git(context.Background(), Options{Nodes: 10, Work: t.TempDir(), Factor: 2000, Steady: time.Hour, Seed: 2})
	if err != nil {
		t.Fatalf("%v (%+v)", err, res)
	}
	t.Logf("%+v", res)
	if r := res.RequestsPerCheck(); r < 0.9 || r > 1.1 {
		t.Errorf("%.2f requests per check, want about 1 (one ref advertisement)", r)
	}
	if b := res.BytesPerCheck(); b > 1.2*float64(res.Baseline) {
		t.Errorf("%.0f bytes per check, more than 1.2 × git ls-remote's %d", b, res.Baseline)
	}
	if n := res.Steady.count("/releases/info/refs"); n != res.Steady.Requests {
		t.Errorf("%d of %d steady requests were ref advertisements, want all", n, res.Steady.Requests)
	}
	if res.Failures != 0 {
		t.Errorf("%d failed checks", res.Failures)
	}
}

// Ten thousand nodes checking hourly on checkloop's schedule: the busiest
// minute stays near the mean of 167 checks (2.8/s), far from the 10,000
// at once of a fleet started together on a fixed interval.
func TestSchedulePeak(t *testing.T) {
	checks, perSecond := SchedulePeak(10000, time.Hour, 3*time.Hour, 1)
	t.Logf("busiest minute: %d checks, %.2f/s", checks, perSecond)
	if checks < 167 || perSecond > 3.5 {
		t.Errorf("busiest minute: %d checks, %.2f/s; want 167-210", checks, perSecond)
	}
}
