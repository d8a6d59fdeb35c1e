package supervisor_test

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/testutil/daemon"
)

// TestMeasure prints the signal→trigger-start latency and the idle memory
// of the real supervisor. It takes about 8 s, so it runs only with
// HOIST_SUPERVISOR_MEASURE=1.
func TestMeasure(t *testing.T) {
	if os.Getenv("HOIST_SUPERVISOR_MEASURE") != "1" {
		t.Skip("set HOIST_SUPERVISOR_MEASURE=1 to measure latency and memory")
	}
	r := newAppRoot(t)
	trigger := r.trigger("lat", `date +%s%N >> "$HOIST_ROOT/out/lat"`)
	d := r.supervise()

	time.Sleep(5 * time.Second)
	t.Logf("idle VmRSS after 5 s: %d kB", d.RSS())

	const n = 200
	latency := make([]time.Duration, 0, n)
	for i := range n {
		if err := os.WriteFile(r.signal("lat"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		written := time.Now().UnixNano()
		latency = append(latency, time.Duration(nextStamp(t, r, i+1)-written))
	}
	t.Logf("signal → trigger start, %d signals: %s", n, percentiles(latency))
	t.Logf("VmRSS after %d runs: %d kB", n, d.RSS())

	// The part of that latency which is the trigger's own start (sh, then
	// date), measured without the supervisor.
	baseline := make([]time.Duration, 0, n)
	for i := range n {
		start := time.Now().UnixNano()
		cmd := exec.Command(trigger)
		cmd.Env = append(os.Environ(), "HOIST_ROOT="+r.dir)
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		baseline = append(baseline, time.Duration(nextStamp(t, r, n+i+1)-start))
	}
	t.Logf("trigger started directly (sh + date), for comparison: %s", percentiles(baseline))
}

// nextStamp waits until out/lat has n lines and returns the last one.
func nextStamp(t *testing.T, r *appRoot, n int) int64 {
	t.Helper()
	var stamp int64
	daemon.Eventually(t, "a trigger run", func() bool {
		runs := r.runs("lat")
		if len(runs) < n {
			return false
		}
		var err error
		stamp, err = strconv.ParseInt(runs[n-1], 10, 64)
		return err == nil
	})
	return stamp
}

func percentiles(d []time.Duration) string {
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(p float64) time.Duration { return s[int(p*float64(len(s)-1))] }
	return "p50 " + at(0.50).Round(10*time.Microsecond).String() +
		", p99 " + at(0.99).Round(10*time.Microsecond).String() +
		", max " + s[len(s)-1].Round(10*time.Microsecond).String()
}
