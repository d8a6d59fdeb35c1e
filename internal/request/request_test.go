package request

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/tag"
)

// newRoot makes an app root with the two directories a request writes to.
func newRoot(t *testing.T) (string, Dirs) {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"statuses", "events/signals"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o770); err != nil {
			t.Fatal(err)
		}
	}
	d, err := OpenDirs(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return dir, d
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestUpdate(t *testing.T) {
	dir, d := newRoot(t)
	if err := Update(t.Context(), d, "v1.2.0"); err != nil {
		t.Fatal(err)
	}
	st, err := statusfile.Read(d.Statuses)
	if err != nil {
		t.Fatal(err)
	}
	want := statusfile.Status{State: statusfile.Installing, Progress: 0, Description: "Queued", UpdateTo: "v1.2.0"}
	if st != want {
		t.Errorf("status = %+v, want %+v", st, want)
	}
	fi, err := os.Lstat(filepath.Join(dir, "events/signals/update"))
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("update signal: %v %v", fi, err)
	}
	// Only the signal: no temp file left behind for the supervisor to see.
	if got := entries(t, filepath.Join(dir, "events/signals")); len(got) != 1 {
		t.Errorf("signals dir holds %v", got)
	}

	// A second request while the first is queued is refused, exit code 3.
	err = Update(t.Context(), d, "v1.3.0")
	if !errors.Is(err, ErrInProgress) || exitcode.Code(err) != exitcode.Locked {
		t.Errorf("second request: %v (exit %d)", err, exitcode.Code(err))
	}
	if err := Rollback(t.Context(), d); !errors.Is(err, ErrInProgress) {
		t.Errorf("rollback while installing: %v", err)
	}
	if st2, _ := statusfile.Read(d.Statuses); st2 != want {
		t.Errorf("refused request changed the status to %+v", st2)
	}
}

func TestUpdateBadTagChangesNothing(t *testing.T) {
	dir, d := newRoot(t)
	for _, bad := range []string{"", "1.2.0", "v1.2", "../update", "v1.2.0\n", "v1.2.0-rc/1"} {
		if err := Update(t.Context(), d, bad); !errors.Is(err, tag.ErrInvalid) {
			t.Errorf("Update(%q) = %v, want tag.ErrInvalid", bad, err)
		}
	}
	if got := entries(t, filepath.Join(dir, "statuses")); len(got) != 0 {
		t.Errorf("statuses holds %v", got)
	}
	if got := entries(t, filepath.Join(dir, "events/signals")); len(got) != 0 {
		t.Errorf("signals holds %v", got)
	}
}

func TestUpdateAfterFinishedUpdate(t *testing.T) {
	_, d := newRoot(t)
	for _, st := range []statusfile.Status{
		{State: statusfile.Success, Progress: 100},
		{State: statusfile.Failed, Progress: 40, Description: "01-run.sh exited 1", UpdateTo: "v1.1.0"},
	} {
		if err := statusfile.Write(d.Statuses, st); err != nil {
			t.Fatal(err)
		}
		if err := Update(t.Context(), d, "v1.1.0"); err != nil {
			t.Errorf("after %s: %v", st.State, err)
		}
		statusfile.Write(d.Statuses, statusfile.Default())
	}
}

func TestRollback(t *testing.T) {
	dir, d := newRoot(t)
	if err := Rollback(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "events/signals/rollback")); err != nil {
		t.Error(err)
	}
	if got := entries(t, filepath.Join(dir, "statuses")); len(got) != 0 {
		t.Errorf("rollback wrote %v into statuses/", got)
	}
}

// Concurrent requests (manager and CLI, two tabs) queue exactly one update.
func TestConcurrentRequests(t *testing.T) {
	dir, _ := newRoot(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, busy := 0, 0
	for range 16 {
		wg.Go(func() {
			d, err := OpenDirs(dir) // each its own descriptors, like separate processes
			if err != nil {
				t.Error(err)
				return
			}
			defer d.Close()
			err = Update(t.Context(), d, "v2.0.0")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrInProgress):
				busy++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok != 1 || busy != 15 {
		t.Errorf("%d requests accepted, %d refused; want 1 and 15", ok, busy)
	}
}

// Watch reports every change, in order, and stops when fn says so.
func TestWatch(t *testing.T) {
	_, d := newRoot(t)
	steps := []statusfile.Status{
		{State: statusfile.Installing, Progress: 0, Description: "Queued", UpdateTo: "v1.1.0"},
		{State: statusfile.Installing, Progress: 10, Description: "Cloning", UpdateTo: "v1.1.0"},
		{State: statusfile.Installing, Progress: 55, Description: "Running 01-run.sh", UpdateTo: "v1.1.0"},
		{State: statusfile.Success, Progress: 100, Description: "Updated to v1.1.0"},
	}
	got := make(chan statusfile.Status, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		// A long poll: the changes must come through fsnotify.
		done <- Watch(ctx, d.Statuses, time.Hour, func(st statusfile.Status, _ error) bool {
			got <- st
			return st == steps[len(steps)-1]
		})
	}()
	if first := <-got; first != statusfile.Default() {
		t.Errorf("first report %+v, want the default status", first)
	}
	for _, st := range steps {
		if err := statusfile.Write(d.Statuses, st); err != nil {
			t.Fatal(err)
		}
		select {
		case g := <-got:
			if g != st {
				t.Fatalf("got %+v, want %+v", g, st)
			}
		case <-ctx.Done():
			t.Fatalf("change to %+v not reported", st)
		}
	}
	if err := <-done; err != nil {
		t.Errorf("Watch = %v", err)
	}
}

// When the directory cannot be watched, the poll still reports changes.
func TestWatchPolls(t *testing.T) {
	dir, d := newRoot(t)
	// d.Statuses stays usable through its descriptor, but fsnotify cannot
	// add its old name any more.
	if err := os.Rename(filepath.Join(dir, "statuses"), filepath.Join(dir, "moved")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var seen []int
	go func() {
		time.Sleep(100 * time.Millisecond)
		statusfile.Write(d.Statuses, statusfile.Status{State: statusfile.Failed, Progress: 30, Description: "x"})
	}()
	err := Watch(ctx, d.Statuses, 50*time.Millisecond, func(st statusfile.Status, _ error) bool {
		seen = append(seen, st.Progress)
		return st.State == statusfile.Failed
	})
	if err != nil || len(seen) != 2 || seen[1] != 30 {
		t.Errorf("Watch = %v, saw %v", err, seen)
	}
}

func TestWatchEndsWithContext(t *testing.T) {
	_, d := newRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := Watch(ctx, d.Statuses, time.Hour, func(statusfile.Status, error) bool { return false }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Watch = %v", err)
	}
}

// A removed status file is reported as such, not as the success that a
// missing file stands for, so a follower can tell the two apart.
func TestWatchReportsRemoval(t *testing.T) {
	dir, d := newRoot(t)
	queued := statusfile.Status{State: statusfile.Installing, Description: "Queued", UpdateTo: "v1.1.0"}
	if err := statusfile.Write(d.Statuses, queued); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var errs []error
	err := Watch(ctx, d.Statuses, time.Hour, func(st statusfile.Status, err error) bool {
		errs = append(errs, err)
		if st == queued {
			if err := os.Remove(filepath.Join(dir, "statuses", statusfile.Name)); err != nil {
				t.Error(err)
			}
			return false
		}
		return st == statusfile.Default()
	})
	if err != nil || len(errs) != 2 || errs[0] != nil || !errors.Is(errs[1], fs.ErrNotExist) {
		t.Errorf("Watch = %v, errors passed %v", err, errs)
	}
}
