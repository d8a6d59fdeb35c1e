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
//     not return at the same instant); httpcache caps the wait;
//   - a wake (Loop.Wake: the owner changed a setting) checks at once,
//     except during a wait a server asked for.
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
	// Wake, if set, ends a wait early: the check runs at once (the
	// manager's owner changed a setting that changes what a check finds
	// or does). A wait a server asked for with Retry-After is not cut.
	Wake <-chan struct{}
}

// Run checks after Schedule.First and then after each Next, until ctx ends.
func (l Loop) Run(ctx context.Context) {
	wait, wakes := l.adjust(l.Schedule.First()), true
	fails := 0
	for l.sleep(ctx, wait, wakes) {
		err := l.Check(ctx)
		if err == nil {
			fails = 0
		} else {
			fails++
		}
		wait = l.adjust(l.Schedule.Next(fails, err))
		_, serverWait := httpcache.ServerWait(err)
		wakes = !serverWait
		if err != nil && l.Failed != nil && ctx.Err() == nil {
			l.Failed(err, wait)
		}
	}
}

// sleep waits d on the clock, or, if wakes, until Wake delivers; a wake
// that comes while it may not cut the wait is spent, as the check that
// ends the wait reads the settings anew. It reports whether the loop goes
// on (ctx has not ended).
func (l Loop) sleep(ctx context.Context, d time.Duration, wakes bool) bool {
	if l.Wake == nil {
		return l.Clock.Sleep(ctx, d) == nil
	}
	wait, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		for {
			select {
			case <-l.Wake:
				if wakes {
					cancel()
					return
				}
			case <-wait.Done():
				return
			}
		}
	}()
	l.Clock.Sleep(wait, d)
	return ctx.Err() == nil
}

func (l Loop) adjust(wait time.Duration) time.Duration {
	if l.Adjust == nil {
		return wait
	}
	return l.Adjust(wait)
}
