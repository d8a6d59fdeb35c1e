package main

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/hoist-dev/hoist/internal/bench"
)

// idleRun is measurement 2 in progress: hoist-supervisor and the karen
// loop, each watching an app root nobody signals.
type idleRun struct {
	b      *suite
	ws     []*watcher
	start  time.Time
	before []bench.Usage
	stop   chan struct{}
	wg     sync.WaitGroup

	mu     sync.Mutex // guards awake
	awake  []int      // per watcher: seconds in which it woke at all
	sample error      // first error of the sampler
}

// settle is how long the watchers may finish starting up before the idle
// window opens.
const settle = time.Second

func (b *suite) startIdle(ctx context.Context) (*idleRun, error) {
	ws, err := b.startWatchers(ctx, b.path("idle"), b.stamp, []string{"ping"}, nil)
	if err != nil {
		return nil, err
	}
	time.Sleep(settle)
	r := &idleRun{b: b, ws: ws, start: time.Now(), stop: make(chan struct{}), awake: make([]int, len(ws))}
	if r.before, err = r.usage(); err != nil {
		stopAll(ws)
		return nil, err
	}
	r.wg.Go(r.sampler)
	return r, nil
}

func (r *idleRun) usage() ([]bench.Usage, error) {
	out := make([]bench.Usage, len(r.ws))
	for i, w := range r.ws {
		u, err := w.usage()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", w.name, err)
		}
		out[i] = u
	}
	return out, nil
}

// sampler counts, for each watcher, the seconds in which any of its
// threads was switched to: a periodic timer shows as one every period.
// Reading /proc does not wake the process read.
func (r *idleRun) sampler() {
	prev := r.before
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		cur, err := r.usage()
		r.mu.Lock()
		if err != nil {
			r.sample = err
			r.mu.Unlock()
			return
		}
		for i := range cur {
			if cur[i].Switches != prev[i].Switches {
				r.awake[i]++
			}
		}
		r.mu.Unlock()
		prev = cur
	}
}

// finish waits for the end of the window and returns measurement 2's rows.
func (r *idleRun) finish(ctx context.Context) []bench.Row {
	defer stopAll(r.ws)
	window := r.b.opt.idle
	r.b.logf("2: idle window ends in %s", time.Until(r.start.Add(window)).Round(time.Second))
	select {
	case <-time.After(time.Until(r.start.Add(window))):
	case <-ctx.Done():
	}
	after, err := r.usage()
	close(r.stop)
	r.wg.Wait()
	if err == nil {
		err = r.sample
	}
	if err != nil {
		return []bench.Row{bench.Failed("2", "idle", bench.Goal{}, err)}
	}
	took := time.Since(r.start)
	d := []bench.Usage{after[0].Sub(r.before[0]), after[1].Sub(r.before[1])}
	per := fmt.Sprintf("over %s idle", took.Round(time.Second))
	// "No periodic wakeups": fewer than one per 30 s, which an idle Go
	// runtime meets (its sysmon and forced GC are rarer) and any timer or
	// polling loop misses.
	maxWake := math.Floor(took.Seconds() / 30)
	return []bench.Row{
		{Group: "2", Measure: fmt.Sprintf("idle RSS (hoist-supervisor; bash loop = %d processes)", d[1].Procs), Unit: bench.Bytes,
			Hoist: float64(d[0].RSS), Base: float64(d[1].RSS), Goal: bench.AtMost(10<<20, bench.Bytes)},
		{Group: "2", Measure: "idle CPU time " + per, Unit: bench.Seconds, Hoist: d[0].CPU.Seconds(), Base: d[1].CPU.Seconds()},
		{Group: "2", Measure: "idle wakeups (context switches, all threads) " + per, Unit: bench.Count,
			Hoist: float64(d[0].Switches), Base: float64(d[1].Switches), Goal: bench.AtMost(maxWake, bench.Count)},
		{Group: "2", Measure: "seconds with any wakeup, " + per, Unit: bench.Count,
			Hoist: float64(r.awake[0]), Base: float64(r.awake[1])},
	}
}
