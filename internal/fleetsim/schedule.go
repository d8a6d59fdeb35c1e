package fleetsim

import (
	"math/rand/v2"
	"time"

	"github.com/hoist-dev/hoist/internal/checkloop"
)

// SchedulePeak returns the most checks that nodes running checkloop's
// schedule (hourly, every check succeeding at once) start in one minute
// of [from, to), counted from their start, and that minute's rate per
// second. It is the server's peak when the server keeps up: what the
// simulation measures at the server too, unless a loaded machine made the
// nodes fall behind the compressed clock and bunch up.
func SchedulePeak(nodes int, from, to time.Duration, seed uint64) (checks int, perSecond float64) {
	perMinute := map[time.Duration]int{}
	for i := range nodes {
		s := checkloop.Schedule{Interval: Interval, Rand: rand.New(rand.NewPCG(seed, uint64(i)))}
		for at := s.First(); at < to; at += s.Next(0, nil) {
			if at >= from {
				m := at / time.Minute
				perMinute[m]++
				checks = max(checks, perMinute[m])
			}
		}
	}
	return checks, float64(checks) / 60
}
