package fleetsim

import (
	"context"
	"time"

	"github.com/hoist-dev/hoist/internal/checkloop"
)

// Clock is a compressed clock: Factor simulated seconds pass per second.
// It implements checkloop.Clock.
type Clock struct {
	real   time.Time // wall-clock origin
	sim    time.Time // simulated time at real
	factor float64
}

// NewClock starts a clock at sim, running factor times faster than the
// wall clock.
func NewClock(sim time.Time, factor float64) *Clock {
	return &Clock{real: time.Now(), sim: sim, factor: factor}
}

// Now is the simulated time.
func (c *Clock) Now() time.Time { return c.At(time.Now()) }

// At is the simulated time at the wall-clock time t.
func (c *Clock) At(t time.Time) time.Time {
	return c.sim.Add(time.Duration(float64(t.Sub(c.real)) * c.factor))
}

// Real is the wall-clock duration of the simulated d.
func (c *Clock) Real(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.factor)
}

// Sleep waits the simulated d.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	return checkloop.System{}.Sleep(ctx, c.Real(d))
}

// SleepUntil waits until the simulated time at.
func (c *Clock) SleepUntil(ctx context.Context, at time.Time) error {
	return c.Sleep(ctx, at.Sub(c.Now()))
}
