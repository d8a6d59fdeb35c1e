package engine_test

import (
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// TestProgress samples the status file while an update runs: it is always
// whole, goes installing → success, progress never falls, and a script's
// ::progress lines show in it.
func TestProgress(t *testing.T) {
	rels := releaserepo.DefaultReleases()[:2]
	rels[1].Files[scriptPath(2)] = releaserepo.Script(`echo "::progress 10 Migrating the database"; sleep 0.3; echo "::progress 90 Almost done"; sleep 0.3`)
	f := newFixture(t, rels...)
	f.must("apply", "--to", "v1.0.0")
	f.request("v1.1.0")

	var samples []statusfile.Status
	var mu sync.Mutex
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			data, err := os.ReadFile(f.path("statuses/" + statusfile.Name))
			if err == nil {
				st, err := statusfile.Parse(data)
				if err != nil {
					t.Errorf("partial status file read: %v: %q", err, data)
				}
				mu.Lock()
				if len(samples) == 0 || samples[len(samples)-1] != st {
					samples = append(samples, st)
				}
				mu.Unlock()
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	})
	r := exec.Command(testbinPath(t), "apply", "--root", f.root)
	out, err := r.CombinedOutput()
	close(done)
	wg.Wait()
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	samples = append(samples, f.status())

	var progress []int
	var descs []string
	for _, s := range samples {
		if s.State == statusfile.Installing && s.Progress > 0 {
			progress = append(progress, s.Progress)
			descs = append(descs, s.Description)
		}
	}
	if !slices.IsSorted(progress) {
		t.Errorf("progress went backwards: %v", progress)
	}
	if len(slices.Compact(slices.Clone(progress))) < 3 {
		t.Errorf("too few progress steps seen: %v", progress)
	}
	for _, want := range []string{"Migrating the database", "Almost done"} {
		if !slices.Contains(descs, want) {
			t.Errorf("description %q never shown: %q", want, descs)
		}
	}
	if last := samples[len(samples)-1]; last.State != statusfile.Success || last.Progress != 100 {
		t.Errorf("final status %+v", last)
	}
	t.Logf("progress seen: %v", progress)
}
