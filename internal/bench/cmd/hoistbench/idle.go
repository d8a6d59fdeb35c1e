package main

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/hoist-dev/hoist/internal/bench"
)

// settle is how long the watchers may finish starting up before the idle
// window opens.
const settle = time.Second

// startIdle starts measurement 2 in the background: hoist-supervisor and
// the karen loop, each watching an app root nobody signals, for the idle
// window. The other measurements run meanwhile: they work in other
// directories, so nothing wakes the idle processes, and CPU load does not
// make a sleeping process run. The returned function waits for the window
// to close and returns the rows.
func (b *suite) startIdle(ctx context.Context) func() []bench.Row {
	rows := make(chan []bench.Row, 1)
	go func() {
		rs, err := b.idle(ctx)
		if err != nil {
			rs = []bench.Row{bench.Failed("2", "idle", bench.Goal{}, err)}
		}
		rows <- rs
	}()
	return func() []bench.Row { return <-rows }
}

func (b *suite) idle(ctx context.Context) ([]bench.Row, error) {
	ws, err := b.startWatchers(ctx, b.path("idle"), b.stamp, []string{"ping"}, nil)
	if err != nil {
		return nil, err
	}
	defer stopAll(ws)
	time.Sleep(settle)
	start := time.Now()
	before, err := usages(ws)
	if err != nil {
		return nil, err
	}
	// Each second, note which watcher woke at all: a periodic timer
	// shows as one such second per period. Reading /proc does not wake
	// the process read.
	awake := make([]int, len(ws))
	prev := before
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for end := start.Add(b.opt.idle); time.Now().Before(end); {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		cur, err := usages(ws)
		if err != nil {
			return nil, err
		}
		for i := range cur {
			if cur[i].Switches != prev[i].Switches {
				awake[i]++
			}
		}
		prev = cur
	}
	took := time.Since(start)
	h, k := prev[0].Sub(before[0]), prev[1].Sub(before[1])
	per := fmt.Sprintf("over %.0f s idle", took.Seconds())
	// "No periodic wakeups": the process wakes in fewer than one second
	// per 30 s, which an idle Go runtime meets (its background work wakes
	// it once a minute or less, a few threads at a time) and any timer or
	// polling loop misses.
	maxWake := math.Floor(took.Seconds() / 30)
	return []bench.Row{
		{Group: "2", Measure: fmt.Sprintf("idle RSS (hoist-supervisor; bash loop = %d processes)", k.Procs), Unit: bench.Bytes,
			Hoist: float64(h.RSS), Base: float64(k.RSS), Goal: bench.AtMost(10<<20, bench.Bytes)},
		{Group: "2", Measure: "idle CPU time " + per, Unit: bench.Seconds, Hoist: h.CPU.Seconds(), Base: k.CPU.Seconds()},
		{Group: "2", Measure: "idle wakeups (context switches, all threads) " + per, Unit: bench.Count,
			Hoist: float64(h.Switches), Base: float64(k.Switches)},
		{Group: "2", Measure: "seconds with any wakeup, " + per, Unit: bench.Count,
			Hoist: float64(awake[0]), Base: float64(awake[1]), Goal: bench.AtMost(maxWake, bench.Count)},
	}, nil
}

func usages(ws []*watcher) ([]bench.Usage, error) {
	out := make([]bench.Usage, len(ws))
	for i, w := range ws {
		u, err := w.usage()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", w.name, err)
		}
		out[i] = u
	}
	return out, nil
}
