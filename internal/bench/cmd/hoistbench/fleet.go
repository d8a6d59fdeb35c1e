package main

import (
	"context"
	"fmt"
	"math"
	"os"

	"github.com/hoist-dev/hoist/internal/bench"
	"github.com/hoist-dev/hoist/internal/fleetsim"
)

// fleetBench is measurement 9: simulated fleets checking hourly against a
// static repository on nginx (each size in opt.fleet) and a git repository
// on git http-backend (opt.fleetGit nodes), counted at the server
// (package fleetsim).
func (b *suite) fleetBench(ctx context.Context) ([]bench.Row, error) {
	var rows []bench.Row
	for i, n := range b.opt.fleet {
		work := b.path(fmt.Sprintf("fleet-static-%d", n))
		if err := os.Mkdir(work, 0o700); err != nil {
			return nil, err
		}
		b.logf("9: %d nodes against nginx (static repository), one simulated hour = 3.6 s", n)
		res, err := fleetsim.Static(ctx, fleetsim.Options{Nodes: n, Work: work, Seed: uint64(i + 1)})
		what := fmt.Sprintf("static (nginx), %s nodes, hourly, nothing new", thousands(n))
		if err != nil {
			rows = append(rows, bench.Failed("9", what, bench.Goal{}, err))
			continue
		}
		b.logf("9: %d nodes: %d checks in %.1f h, mean check %s wall; at the server %.2f requests per node-hour, peak %.2f/s; %d failed checks (last: %v); %s wall",
			n, res.Checks, res.SteadyHours, res.CheckWall, res.RequestsPerNodeHour(), res.PeakPerSecond(), res.Failures, res.LastError, res.Wall.Round(1e9))
		rows = append(rows,
			bench.Row{Group: "9", Measure: what + ": requests per check = per node-hour", Unit: bench.Count2,
				Hoist: res.RequestsPerCheck(), Base: 1, Goal: bench.AtMost(1.05, bench.Count2)},
			bench.Row{Group: "9", Measure: "same: bytes per node-hour (baseline: unconditional GET)", Unit: bench.Bytes,
				Hoist: res.BytesPerCheck(), Base: float64(res.Baseline), Goal: bench.AtMost(2048, bench.Bytes)},
			bench.Row{Group: "9", Measure: "same: checks per node-hour the machine kept up with", Unit: bench.Count2,
				Hoist: res.ChecksPerNodeHour(), Base: math.NaN()},
		)
		if n >= 10000 {
			// The schedule's busiest minute (fleetsim.SchedulePeak) times the
			// requests a check made: the server's peak when it keeps up.
			_, perSecond := fleetsim.SchedulePeak(n, fleetsim.Interval, 3*fleetsim.Interval, uint64(i+1))
			rows = append(rows,
				bench.Row{Group: "9", Measure: "same: peak requests/s (busiest minute of the schedule × requests per check)", Unit: bench.ReqPerSec,
					Hoist: perSecond * res.RequestsPerCheck(), Base: math.NaN(), Goal: bench.AtMost(3.5, bench.ReqPerSec)},
				bench.Row{Group: "9", Measure: "same: peak requests/s measured at nginx (moves with the machine's load)", Unit: bench.ReqPerSec,
					Hoist: res.PeakPerSecond(), Base: math.NaN()})
		}
		share := 100 * float64(res.Downloaded) / float64(n)
		rows = append(rows,
			bench.Row{Group: "9", Measure: fmt.Sprintf("%s nodes, release with percent 10: %% that download in the first phase", thousands(n)), Unit: bench.Count2,
				Hoist: share, Base: math.NaN(), Goal: bench.Goal{Text: "10 ± 1.5", Check: func(h, _ float64) bool { return math.Abs(h-10) <= 1.5 }}},
			bench.Row{Group: "9", Measure: "same: requests per node in that phase (TUF refresh)", Unit: bench.Count2,
				Hoist: float64(res.Phase.Requests) / float64(n), Base: math.NaN()},
		)
	}
	if n := b.opt.fleetGit; n > 0 {
		work := b.path("fleet-git")
		if err := os.Mkdir(work, 0o700); err != nil {
			return nil, err
		}
		b.logf("9: %d nodes against git http-backend", n)
		res, err := fleetsim.Git(ctx, fleetsim.Options{Nodes: n, Work: work, Seed: 99})
		what := fmt.Sprintf("git (http-backend), %s nodes, hourly, nothing new", thousands(n))
		if err != nil {
			return append(rows, bench.Failed("9", what, bench.Goal{}, err)), nil
		}
		b.logf("9: git: %d checks in %.1f h, mean check %s wall; %d failed checks (last: %v); %s wall", res.Checks, res.SteadyHours, res.CheckWall, res.Failures, res.LastError, res.Wall.Round(1e9))
		rows = append(rows,
			bench.Row{Group: "9", Measure: what + ": requests per check", Unit: bench.Count2,
				Hoist: res.RequestsPerCheck(), Base: 1, Goal: bench.AtMost(1.05, bench.Count2)},
			bench.Row{Group: "9", Measure: "same: bytes per check = per node-hour (baseline: one git ls-remote)", Unit: bench.Bytes,
				Hoist: res.BytesPerCheck(), Base: float64(res.Baseline), Goal: bench.RatioAtMost(1.2)},
		)
	}
	return rows, nil
}

// thousands writes n with thousands separators: 10000 → "10,000".
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
