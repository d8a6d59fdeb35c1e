package checkloop

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-version"

	"github.com/hoist-dev/hoist/internal/discovery"
	"github.com/hoist-dev/hoist/internal/httpcache"
	"github.com/hoist-dev/hoist/internal/testutil/nginx"
)

func schedule(seed uint64) Schedule {
	return Schedule{Interval: time.Hour, Rand: rand.New(rand.NewPCG(seed, 1))}
}

// within reports whether d is in [lo, hi].
func within(d, lo, hi time.Duration) bool { return d >= lo && d <= hi }

func TestJitterBounds(t *testing.T) {
	s := schedule(1)
	const n = 10000
	for _, tc := range []struct {
		name   string
		wait   func() time.Duration
		lo, hi time.Duration
	}{
		{"first", s.First, 0, time.Hour},
		{"after a success", func() time.Duration { return s.Next(0, nil) }, 54 * time.Minute, 66 * time.Minute},
	} {
		var lo, hi, sum time.Duration = tc.hi, tc.lo, 0
		for range n {
			d := tc.wait()
			if !within(d, tc.lo, tc.hi) {
				t.Fatalf("%s: wait %v outside [%v, %v]", tc.name, d, tc.lo, tc.hi)
			}
			lo, hi, sum = min(lo, d), max(hi, d), sum+d
		}
		// Spread over the whole range, evenly: not a constant, not one-sided.
		span := tc.hi - tc.lo
		if lo > tc.lo+span/100 || hi < tc.hi-span/100 {
			t.Errorf("%s: waits span [%v, %v], want most of [%v, %v]", tc.name, lo, hi, tc.lo, tc.hi)
		}
		if mean, mid := sum/n, tc.lo+span/2; !within(mean, mid-span/50, mid+span/50) {
			t.Errorf("%s: mean wait %v, want about %v", tc.name, mean, mid)
		}
	}
}

func TestBackoff(t *testing.T) {
	s := schedule(2)
	fail := errors.New("unreachable")
	for fails, base := range map[int]time.Duration{
		1: time.Minute, 2: 2 * time.Minute, 3: 4 * time.Minute, 6: 32 * time.Minute,
		7: time.Hour, 50: time.Hour, // capped at the interval
	} {
		for range 100 {
			if d := s.Next(fails, fail); !within(d, base*9/10, base*11/10) {
				t.Fatalf("after %d failures: wait %v, want %v ±10 %%", fails, d, base)
			}
		}
	}
	short := Schedule{Interval: 30 * time.Second, Rand: s.Rand}
	if d := short.Next(1, fail); d > 33*time.Second {
		t.Errorf("first retry %v exceeds an interval of 30s", d)
	}
}

func TestRetryAfterWins(t *testing.T) {
	s := schedule(3)
	for _, tc := range []struct {
		name   string
		fails  int
		wait   time.Duration
		lo, hi time.Duration
	}{
		{"longer than the backoff", 1, 2 * time.Hour, 2 * time.Hour, 2*time.Hour + 12*time.Minute},
		{"longer than the interval", 8, 5 * time.Hour, 5 * time.Hour, 5*time.Hour + 30*time.Minute},
		{"shorter: backoff rules", 1, 10 * time.Second, 54 * time.Second, 66 * time.Second},
	} {
		err := fmt.Errorf("check: %w", &httpcache.StatusError{Code: 503, Status: "503 Service Unavailable", Wait: tc.wait, HasWait: true})
		for range 100 {
			if d := s.Next(tc.fails, err); !within(d, tc.lo, tc.hi) {
				t.Fatalf("%s: wait %v, want [%v, %v]", tc.name, d, tc.lo, tc.hi)
			}
		}
	}
}

// recorder is a Clock that does not wait: it records the waits asked for
// and ends the loop after max of them.
type recorder struct {
	waits  []time.Duration
	max    int
	cancel context.CancelFunc
}

func (r *recorder) Sleep(ctx context.Context, d time.Duration) error {
	r.waits = append(r.waits, d)
	if len(r.waits) > r.max {
		r.cancel()
	}
	return ctx.Err()
}

// runLoop runs checks of releases (a URL template) until n checks ran, and
// returns the waits the loop asked for.
func runLoop(t *testing.T, releases string, n int) []time.Duration {
	t.Helper()
	src, err := discovery.Open(releases, "")
	if err != nil {
		t.Fatal(err)
	}
	finder := discovery.NewFinder(src, 0, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := &recorder{max: n, cancel: cancel}
	installed := version.Must(version.NewVersion("1.0.0"))
	Loop{
		Schedule: schedule(4),
		Clock:    clock,
		Check: func(ctx context.Context) error {
			_, err := finder.Next(ctx, installed)
			return err
		},
	}.Run(ctx)
	return clock.waits
}

// The loop's checks against nginx are conditional: after the first, 304s.
func TestLoopConditionalAgainstNginx(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "HEAD"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "HEAD", "info.json"), []byte(`{"version":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := nginx.Start(t, root, "")
	waits := runLoop(t, srv.URL+"/{ref}/info.json", 5)
	for i, d := range waits[1 : len(waits)-1] {
		if !within(d, 54*time.Minute, 66*time.Minute) {
			t.Errorf("wait %d after a success: %v", i+1, d)
		}
	}
	reqs := srv.WaitRequests(5)
	for i, r := range reqs {
		want := http.StatusNotModified
		if i == 0 {
			want = http.StatusOK
		}
		if r.Status != want || (i > 0 && r.IfNoneMatch == "") {
			t.Errorf("request %d: %+v, want status %d (conditional after the first)", i, r, want)
		}
	}
}

// A server that answers 503 or 429 with Retry-After is not asked again
// before it said; plain failures back off; a success returns to the interval.
func TestLoopBacksOffAndHonoursRetryAfter(t *testing.T) {
	answers := []func(http.ResponseWriter){
		func(w http.ResponseWriter) { w.WriteHeader(http.StatusInternalServerError) },
		func(w http.ResponseWriter) { w.WriteHeader(http.StatusInternalServerError) },
		func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "7200")
			w.WriteHeader(http.StatusServiceUnavailable)
		},
		func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "600")
			w.WriteHeader(http.StatusTooManyRequests)
		},
		func(w http.ResponseWriter) { w.Write([]byte(`{"version":"1.0.0"}`)) },
	}
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answers[min(int(n.Add(1))-1, len(answers)-1)](w)
	}))
	defer srv.Close()
	waits := runLoop(t, srv.URL+"/{ref}/info.json", len(answers))
	want := []struct{ lo, hi time.Duration }{
		{0, time.Hour},                         // first
		{54 * time.Second, 66 * time.Second},   // 500: first retry
		{108 * time.Second, 132 * time.Second}, // 500: doubled
		{2 * time.Hour, 132 * time.Minute},     // 503 Retry-After 2h
		{10 * time.Minute, 11 * time.Minute},   // 429 Retry-After 10m, over a backoff of 8m
		{54 * time.Minute, 66 * time.Minute},   // success: the interval
	}
	if len(waits) != len(want) {
		t.Fatalf("waits %v, want %d", waits, len(want))
	}
	for i, w := range want {
		if !within(waits[i], w.lo, w.hi) {
			t.Errorf("wait %d = %v, want [%v, %v]", i, waits[i], w.lo, w.hi)
		}
	}
}

// Adjust changes every wait, the first one too, and the loop sleeps the
// changed wait (the manager shortens waits to an update window's opening).
func TestAdjustChangesEveryWait(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := &recorder{max: 3, cancel: cancel}
	var asked []time.Duration
	Loop{
		Schedule: schedule(4),
		Clock:    clock,
		Check:    func(context.Context) error { return nil },
		Adjust: func(wait time.Duration) time.Duration {
			asked = append(asked, wait)
			return time.Duration(len(asked)) * time.Minute
		},
	}.Run(ctx)
	want := []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute, 4 * time.Minute}
	if !slices.Equal(clock.waits, want) {
		t.Fatalf("slept %v, want %v", clock.waits, want)
	}
	if asked[1] < 54*time.Minute || asked[1] > 66*time.Minute {
		t.Errorf("Adjust was given %v after a success, want the jittered interval", asked[1])
	}
}

// retryAfter is a failure that carries a server's Retry-After.
type retryAfter struct{}

func (retryAfter) Error() string                     { return "503 Service Unavailable" }
func (retryAfter) RetryAfter() (time.Duration, bool) { return time.Hour, true }

// Wake ends an hour's wait at once, except one a server asked for.
func TestWakeChecksAtOnce(t *testing.T) {
	tests := []struct {
		name     string
		err      error // of every check
		secondOK bool  // whether a wake after the first check brings a second
	}{
		{"after a success", nil, true},
		{"after a plain failure", errors.New("connection refused"), true},
		{"during a Retry-After", retryAfter{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			wake, checks := make(chan struct{}, 1), make(chan struct{}, 2)
			go Loop{
				Schedule: schedule(4),
				Clock:    System{},
				Check: func(context.Context) error {
					checks <- struct{}{}
					return tt.err
				},
				Adjust: func(time.Duration) time.Duration { return time.Hour },
				Wake:   wake,
			}.Run(ctx)
			wake <- struct{}{}
			select {
			case <-checks:
			case <-time.After(5 * time.Second):
				t.Fatal("no check after a wake")
			}
			wake <- struct{}{}
			select {
			case <-checks:
				if !tt.secondOK {
					t.Error("a wake cut the wait a server asked for")
				}
			case <-time.After(300 * time.Millisecond):
				if tt.secondOK {
					t.Error("no second check after a wake")
				}
			}
		})
	}
}
