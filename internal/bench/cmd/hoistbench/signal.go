package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hoist-dev/hoist/internal/bench"
)

// stamp is one line of the stamp helper: which trigger started when.
type stamp struct {
	name string
	ns   int64 // CLOCK_MONOTONIC
}

// stamps reads the lines the stamp helper writes into a fifo.
type stamps struct {
	path string
	f    *os.File
	c    chan stamp
}

// openStamps makes the fifo at path and reads it until close. It is opened
// read-write, so that it never reports end-of-file between writers and a
// writer's open never blocks.
func openStamps(path string) (*stamps, error) {
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return nil, fmt.Errorf("mkfifo %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	s := &stamps{path: path, f: f, c: make(chan stamp, 1<<14)}
	go func() {
		defer close(s.c)
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 2 {
				continue
			}
			ns, err := strconv.ParseInt(fields[len(fields)-1], 10, 64)
			if err != nil {
				continue
			}
			s.c <- stamp{name: fields[0], ns: ns}
		}
	}()
	return s, nil
}

func (s *stamps) close() { s.f.Close() }

var errNoStamp = errors.New("trigger did not start in time")

// next returns the next stamp, waiting at most timeout.
func (s *stamps) next(ctx context.Context, timeout time.Duration) (stamp, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case st, ok := <-s.c:
		if !ok {
			return stamp{}, errors.New("stamp fifo closed")
		}
		return st, nil
	case <-t.C:
		return stamp{}, errNoStamp
	case <-ctx.Done():
		return stamp{}, ctx.Err()
	}
}

// drain drops stamps left over from an earlier step.
func (s *stamps) drain() {
	for {
		select {
		case <-s.c:
		default:
			return
		}
	}
}

// signalResult is what one watcher did with the signals.
type signalResult struct {
	single            []time.Duration
	burst             []time.Duration
	burstAll          time.Duration // first signal written → last trigger started
	lost              int
	singleErr, burstE error
}

// signalLatency is measurement 1: the time from writing a signal file to
// the start of its trigger, for hoist-supervisor and the karen loop, both
// running the stamp helper as the trigger. Single signals go one at a time;
// the burst writes opt.burst signals of distinct triggers at once.
func (b *suite) signalLatency(ctx context.Context) ([]bench.Row, error) {
	dir := b.path("signals")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	st, err := openStamps(filepath.Join(dir, "stamps.fifo"))
	if err != nil {
		return nil, err
	}
	defer st.close()
	names := []string{"ping"}
	for i := range b.opt.burst {
		names = append(names, fmt.Sprintf("b%04d", i))
	}
	env := []string{"HOISTBENCH_STAMPS=" + st.path}
	b.logf("1: signal latency: %d single signals and a burst of %d, hoist-supervisor vs bash+inotifywait", b.opt.signals, b.opt.burst)
	ws, err := b.startWatchers(ctx, dir, b.stamp, names, env)
	if err != nil {
		return nil, err
	}
	defer stopAll(ws)
	res := map[string]*signalResult{}
	for _, w := range ws {
		r := &signalResult{}
		res[w.name] = r
		r.single, r.singleErr = singles(ctx, w.signals, st, b.opt.signals)
		r.burst, r.burstAll, r.lost, r.burstE = burst(ctx, w.signals, st, names[1:])
		b.logf("   %s: single p50 %s p99 %s; burst p50 %s p99 %s, lost %d", w.name,
			bench.Median(r.single), bench.Percentile(r.single, 99), bench.Median(r.burst), bench.Percentile(r.burst, 99), r.lost)
	}
	floor, err := execFloor(ctx, b.stamp, st, 50)
	if err != nil {
		return nil, err
	}
	h, k := res["hoist"], res["bash"]
	row := func(measure string, unit bench.Unit, goal bench.Goal, err error, hv, kv float64) bench.Row {
		if err != nil {
			return bench.Failed("1", measure, goal, err)
		}
		return bench.Row{Group: "1", Measure: measure, Unit: unit, Hoist: hv, Base: kv, Goal: goal}
	}
	single := fmt.Sprintf("signal → trigger start, %d single", b.opt.signals)
	burstName := fmt.Sprintf("burst of %d signals", b.opt.burst)
	singleErr := errors.Join(h.singleErr, k.singleErr)
	burstErr := errors.Join(h.burstE, k.burstE)
	return []bench.Row{
		row(single+": p50", bench.Seconds, bench.RatioAtMost(1), singleErr, secs(bench.Median(h.single)), secs(bench.Median(k.single))),
		row(single+": p99", bench.Seconds, bench.Both(bench.AtMost(2e-3, bench.Seconds), bench.RatioAtMost(1)), singleErr,
			secs(bench.Percentile(h.single, 99)), secs(bench.Percentile(k.single, 99))),
		row(burstName+": p50", bench.Seconds, bench.RatioAtMost(1), burstErr, secs(bench.Median(h.burst)), secs(bench.Median(k.burst))),
		row(burstName+": p99", bench.Seconds, bench.RatioAtMost(1), burstErr, secs(bench.Percentile(h.burst, 99)), secs(bench.Percentile(k.burst, 99))),
		row(burstName+": all started", bench.Seconds, bench.RatioAtMost(1), burstErr, secs(h.burstAll), secs(k.burstAll)),
		row(burstName+": lost", bench.Count, bench.AtMost(0, bench.Count), burstErr, float64(h.lost), float64(k.lost)),
		{Group: "1", Measure: "(in both) trigger exec cost: fork+exec to stamp, p50", Unit: bench.Seconds,
			Hoist: secs(bench.Median(floor)), Base: math.NaN()},
	}, nil
}

func secs(d time.Duration) float64 { return d.Seconds() }

// writeSignal writes the signal name into dir the way `touch` does: create,
// close (IN_CLOSE_WRITE).
func writeSignal(dir, name string) error {
	return os.WriteFile(filepath.Join(dir, name), nil, 0o644)
}

// singles writes the signal "ping" n times, each after the previous run
// started and had time to end, and returns each latency.
func singles(ctx context.Context, dir string, st *stamps, n int) ([]time.Duration, error) {
	st.drain()
	var out []time.Duration
	for range n {
		t0 := monotonic()
		if err := writeSignal(dir, "ping"); err != nil {
			return out, err
		}
		s, err := st.next(ctx, 10*time.Second)
		if err != nil {
			return out, err
		}
		out = append(out, time.Duration(s.ns-t0))
		// Let the run end, so that the next signal is not coalesced
		// behind it (hoist) and finds the machine as quiet as the first.
		time.Sleep(5 * time.Millisecond)
	}
	return out, nil
}

// burst writes one signal per name as fast as it can, then collects the
// stamps for up to 60 s. It returns each started trigger's latency, the
// time from the first write to the last start, and how many never started.
func burst(ctx context.Context, dir string, st *stamps, names []string) ([]time.Duration, time.Duration, int, error) {
	st.drain()
	t0 := make(map[string]int64, len(names))
	for _, n := range names {
		t0[n] = monotonic()
		if err := writeSignal(dir, n); err != nil {
			return nil, 0, 0, err
		}
	}
	first := t0[names[0]]
	var lat []time.Duration
	last := first
	deadline := time.Now().Add(60 * time.Second)
	for seen := map[string]bool{}; len(seen) < len(names); {
		s, err := st.next(ctx, time.Until(deadline))
		if errors.Is(err, errNoStamp) {
			break
		}
		if err != nil {
			return nil, 0, 0, err
		}
		start, ok := t0[s.name]
		if !ok || seen[s.name] {
			return nil, 0, 0, fmt.Errorf("unexpected or repeated trigger run %q", s.name)
		}
		seen[s.name] = true
		lat = append(lat, time.Duration(s.ns-start))
		last = max(last, s.ns)
	}
	// Let the last triggers exit before anything else is measured.
	time.Sleep(time.Second)
	return lat, time.Duration(last - first), len(names) - len(lat), nil
}

// execFloor runs the stamp helper directly n times: the cost of starting
// a trigger at all, which both watchers pay on top of their own.
func execFloor(ctx context.Context, helper string, st *stamps, n int) ([]time.Duration, error) {
	st.drain()
	var out []time.Duration
	for range n {
		cmd := exec.CommandContext(ctx, helper)
		cmd.Env = append(cleanEnv(), "HOISTBENCH_STAMPS="+st.path)
		t0 := monotonic()
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		s, err := st.next(ctx, 10*time.Second)
		cmd.Wait()
		if err != nil {
			return nil, err
		}
		out = append(out, time.Duration(s.ns-t0))
	}
	return out, nil
}
