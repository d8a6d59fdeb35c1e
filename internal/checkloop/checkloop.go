// Package checkloop runs a node's automatic release checks politely
// (issue 16 §3), so that a fleet's checks spread over time instead of
// arriving together:
//
//   - the first check waits a random delay in [0, interval), so nodes
//     started together (a power cut, a fleet-wide reboot) do not check
//     together;
//   - each following wait is the interval ±10 % (uniform), so nodes that
//     happen to check together drift apart;
//   - after a failure the next try comes sooner but backs off
//     exponentially: FirstRetry, twice that, and so on, capped at the
//     interval (jittered too), so a node recovers quickly from a blip while
//     a down server sees at most a few extra requests per node;
//   - a server that answered 429 or 503 with Retry-After is not asked again
//     before that wait (plus up to 10 %, so a fleet told the same wait does
//     not return at the same instant); httpcache caps the wait.
//
// Randomness and the clock are injected: tests check the schedule without
// waiting, and the fleet simulation runs the same loop on a compressed
// clock.
package checkloop

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/hoist-dev/hoist/internal/httpcache"
)

// DefaultFirstRetry is the wait after a first failure.
const DefaultFirstRetry = time.Minute

// jitter is the share of a wait that is random, either way.
const jitter = 0.1

// Clock waits.
type Clock interface {
	// Sleep waits d, or until ctx ends and then returns its error.
	Sleep(ctx context.Context, d time.Duration) error
}

// System is the real clock.
type System struct{}

func (System) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Schedule computes the waits between checks.
type Schedule struct {
	Interval   time.Duration // between successful checks, on average
	FirstRetry time.Duration // after a first failure (0: DefaultFirstRetry); capped at Interval
	Rand       *rand.Rand    // not shared: *rand.Rand is not safe for concurrent use
}

// First returns the wait before the first check, uniform in [0, Interval).
func (s Schedule) First() time.Duration {
	return time.Duration(s.Rand.Int64N(int64(s.Interval)))
}

// Next returns the wait after a check: fails is the number of consecutive
// failed checks including this one (0: it succeeded), err its error.
func (s Schedule) Next(fails int, err error) time.Duration {
	d := s.Interval
	if fails > 0 {
		first := s.FirstRetry
		if first <= 0 {
			first = DefaultFirstRetry
		}
		d = min(first, s.Interval)
		for i := 1; i < fails && d < s.Interval; i++ {
			d *= 2
		}
		d = min(d, s.Interval)
	}
	d = time.Duration(float64(d) * (1 - jitter + 2*jitter*s.Rand.Float64()))
	if wait, ok := httpcache.ServerWait(err); ok {
		d = max(d, time.Duration(float64(wait)*(1+jitter*s.Rand.Float64())))
	}
	return d
}

// Loop runs Check on Schedule until ctx ends.
type Loop struct {
	Schedule Schedule
	Clock    Clock
	// Check runs one check; an error makes the next one come as Next says.
	Check func(context.Context) error
	// Adjust, if set, may change each wait, the first one too, before the
	// loop sleeps it (the manager shortens it to an update window's opening).
	Adjust func(wait time.Duration) time.Duration
	// Failed, if set, hears of each failed check and the wait before the
	// next one (for the log).
	Failed func(err error, wait time.Duration)
}

// Run checks after Schedule.First and then after each Next, until ctx ends.
func (l Loop) Run(ctx context.Context) {
	wait := l.adjust(l.Schedule.First())
	fails := 0
	for l.Clock.Sleep(ctx, wait) == nil {
		err := l.Check(ctx)
		if err == nil {
			fails = 0
		} else {
			fails++
		}
		wait = l.adjust(l.Schedule.Next(fails, err))
		if err != nil && l.Failed != nil && ctx.Err() == nil {
			l.Failed(err, wait)
		}
	}
}

func (l Loop) adjust(wait time.Duration) time.Duration {
	if l.Adjust == nil {
		return wait
	}
	return l.Adjust(wait)
}
