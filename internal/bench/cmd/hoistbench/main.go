// Command hoistbench is `make bench`: it measures hoist's real binaries
// against what a user would otherwise run (a bash inotifywait loop, git
// clone, sha256sum, cp -a, a minimal Go file server) in the same run, and
// prints one table of ratios (hoist ÷ baseline). It never fails on speed:
// a missed goal is a "NO" in the table; only a broken setup is an error. A
// measurement whose programs (wrk, inotifywait, git…) are not installed is
// skipped, with a row that says what it needs.
//
//	hoistbench [--bin DIR] [--record BENCHMARKS.md] [--idle 60s] [--only 1,3] …
//
// The helpers stamp (the trigger of the signal benchmark) and fileserver
// (the HTTP baseline) are expected next to hoistbench; make bench builds
// all three into bin/bench/.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hoist-dev/hoist/internal/bench"
	"github.com/hoist-dev/hoist/internal/cli"
	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/fleetsim"
	"github.com/hoist-dev/hoist/internal/nginx"
)

func main() {
	cli.Main("hoistbench", func(ctx context.Context, args []string, stderr io.Writer) error {
		return run(ctx, args, os.Stdout, stderr)
	})
}

// options are the command's flags.
type options struct {
	bin, work, record string
	keep              bool
	only              map[string]bool // measurement groups to run; empty: all
	idle              time.Duration
	signals, burst    int
	runs              int
	files, fileSize   int   // the release of measurements 3, 4, 6, 7
	changed           int   // files v1.1.0 changes (7)
	scale             []int // file counts of measurement 8
	scaleSize         int
	wrkDuration       time.Duration
	fleet             []int // static fleet sizes of measurement 9
	fleetGit          int   // git fleet size of measurement 9 (0: none)
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("hoistbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: hoistbench [flags]\n\n"+
			"Measures hoist's binaries against their baselines and prints one table of ratios (make bench).")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.bin, "bin", os.Getenv("HOIST_BIN"), "directory of hoist, hoist-supervisor, hoist-manager (default $HOIST_BIN)")
	fs.StringVar(&o.work, "work", "", "work directory (default: a new temp dir, removed at the end)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory")
	fs.StringVar(&o.record, "record", "", "also write the results between the markers of this Markdown file")
	only := fs.String("only", "", "comma-separated measurement numbers to run (default all: 1-10)")
	fs.DurationVar(&o.idle, "idle", 60*time.Second, "idle window of measurement 2")
	fs.IntVar(&o.signals, "signals", 200, "single signals of measurement 1")
	fs.IntVar(&o.burst, "burst", 1000, "signals in the burst of measurement 1")
	fs.IntVar(&o.runs, "runs", 3, "repetitions of each apply/rollback/hash measurement (median reported)")
	fs.IntVar(&o.files, "files", 2000, "files of the release of measurements 3, 4, 6, 7")
	size := fs.Int("size-mb", 50, "total MB of that release")
	fs.IntVar(&o.changed, "changed", 10, "files v1.1.0 changes (measurement 7)")
	scale := fs.String("scale", "200,2000,20000", "file counts of measurement 8")
	fs.IntVar(&o.scaleSize, "scale-file-size", 4096, "bytes per file in measurement 8")
	fs.DurationVar(&o.wrkDuration, "wrk-duration", 5*time.Second, "duration of each wrk run (measurement 5)")
	fleet := fs.String("fleet", "1000,10000", "simulated nodes against a static repository (measurement 9)")
	fs.IntVar(&o.fleetGit, "fleet-git", 20, "simulated nodes against git http-backend, which forks per request (measurement 9)")
	if err := cli.Parse(fs, args); err != nil {
		return o, err
	}
	o.only = map[string]bool{}
	for _, g := range strings.Split(*only, ",") {
		if g = strings.TrimSpace(g); g != "" {
			o.only[g] = true
		}
	}
	var err error
	if o.scale, err = parseInts(*scale); err != nil {
		return o, fmt.Errorf("%w: --scale: %v", exitcode.ErrUsage, err)
	}
	if o.fleet, err = parseInts(*fleet); err != nil {
		return o, fmt.Errorf("%w: --fleet: %v", exitcode.ErrUsage, err)
	}
	o.fileSize = *size * 1e6 / max(o.files, 1)
	switch {
	case o.bin == "":
		return o, fmt.Errorf("%w: --bin or $HOIST_BIN is required (make bench sets it)", exitcode.ErrUsage)
	case o.runs < 1 || o.signals < 1 || o.burst < 1 || o.files < o.changed || o.changed < 1 || o.scaleSize < 1:
		return o, fmt.Errorf("%w: counts must be positive (and --changed ≤ --files)", exitcode.ErrUsage)
	case o.idle < 5*time.Second || o.wrkDuration < time.Second:
		return o, fmt.Errorf("%w: --idle must be ≥ 5s and --wrk-duration ≥ 1s", exitcode.ErrUsage)
	}
	return o, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(f), &n); err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// wants reports whether any of groups is to be measured.
func (o options) wants(groups ...string) bool {
	if len(o.only) == 0 {
		return true
	}
	for _, g := range groups {
		if o.only[g] {
			return true
		}
	}
	return false
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opt, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	b, err := newBench(opt, stderr)
	if err != nil {
		return err
	}
	defer b.cleanup()
	machine, loadBefore := describeMachine(), loadAverage()
	start := time.Now()

	var rows []bench.Row
	add := func(rs ...bench.Row) { rows = append(rows, rs...) }
	have := func(program string) bool { _, err := exec.LookPath(program); return err == nil }
	// missing adds a skipped row for each wanted group when programs in
	// needs are not installed, and reports whether it did: a machine
	// without wrk still gets every other figure.
	missing := func(what string, needs []string, groups ...string) bool {
		m := bench.Missing(needs, have)
		if len(m) == 0 {
			return false
		}
		b.logf("%s: %s skipped: needs %s", strings.Join(groups, "/"), what, strings.Join(m, ", "))
		for _, g := range groups {
			if opt.wants(g) {
				add(bench.Skipped(g, what, m))
			}
		}
		return true
	}
	// The programs the measurements run besides hoist's: the karen loop
	// (1, 2) and the bash way of installing a release from git (3, 4, 6,
	// 7, 8), which also makes the releases.
	karen := []string{"bash", "inotifywait"}
	bashWay := []string{"bash", "git", "sha256sum", "cp"}
	// The idle window of measurement 2 runs in the background while the
	// others run (see startIdle): the whole bench stays short.
	idle := func() []bench.Row { return nil }
	if opt.wants("2") && !missing("idle supervisor and bash loop", karen, "2") {
		b.logf("2: idle supervisor and bash loop, %s window from now", opt.idle)
		idle = b.startIdle(ctx)
	}
	// measure adds the rows of fn, a measurement covering groups that
	// runs the programs in needs, or one failed row saying why it could
	// not be made.
	measure := func(fn func(context.Context) ([]bench.Row, error), what string, needs []string, groups ...string) {
		if !opt.wants(groups...) || missing(what, needs, groups...) {
			return
		}
		rs, err := fn(ctx)
		if err != nil {
			rs = []bench.Row{bench.Failed(groups[0], what, bench.Goal{}, err)}
		}
		add(rs...)
	}
	measure(b.signalLatency, "signal → trigger start", karen, "1")
	measure(b.releaseBench, "apply, rollback, hashing", bashWay, "3", "4", "6", "7")
	measure(b.apiBench, "GET "+statusPath, []string{"wrk"}, "5")
	measure(b.scaleBench, "apply time by file count", bashWay, "8")
	measure(b.fleetBench, "fleet simulation", []string{fleetsim.NginxBin, "git"}, "9")
	measure(b.staticBench, "static release repository", append(bashWay, nginx.Bin, "curl", "tar"), "10")
	add(idle()...)
	if err := ctx.Err(); err != nil {
		return err
	}
	rows = sortRows(rows)

	var out strings.Builder
	fmt.Fprintf(&out, "Command: `%s`  \n", commandLine(args))
	fmt.Fprintf(&out, "%s  \nDuration: %s; load average (1, 5, 15 min) at the start: %s, at the end: %s\n\n",
		machine, time.Since(start).Round(time.Second), loadBefore, loadAverage())
	fmt.Fprintf(&out, "ratio = hoist ÷ baseline; medians of %d runs where repeated.\n\n", opt.runs)
	if err := bench.WriteTable(&out, rows); err != nil {
		return err
	}
	fmt.Fprintf(&out, "\n\n%s\n", bench.Summary(rows))
	if _, err := io.WriteString(stdout, out.String()); err != nil {
		return err
	}
	if opt.record != "" {
		if err := bench.Record(opt.record, out.String()); err != nil {
			return fmt.Errorf("record: %w", err)
		}
		b.logf("recorded in %s", opt.record)
	}
	return nil
}

// sortRows orders rows by measurement number, keeping each one's order.
func sortRows(rows []bench.Row) []bench.Row {
	var out []bench.Row
	for g := 1; g <= 10; g++ {
		for _, r := range rows {
			if r.Group == fmt.Sprint(g) {
				out = append(out, r)
			}
		}
	}
	return out
}

// commandLine is how the run was started, as `make bench` when it was.
func commandLine(args []string) string {
	if os.Getenv("MAKELEVEL") != "" {
		return "make bench"
	}
	return strings.TrimSpace(filepath.Base(os.Args[0]) + " " + strings.Join(args, " "))
}
