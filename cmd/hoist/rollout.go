package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/discovery"
	"github.com/hoist-dev/hoist/internal/infofile"
	"github.com/hoist-dev/hoist/internal/safefs"
)

// runReleaseRollout sets the rollout of the newest release in the info.json
// of a git release repository's work tree, on its default branch (CONTRACT
// §12). The tag and its signature stay as they are: only the default
// branch's rollout counts, so widening or halting is one small commit.
func runReleaseRollout(ctx context.Context, s streams, args []string) error {
	fs := newFlags(s, "release rollout", "--percent N | --start TIME --days D | --halt  DIR")
	percent := fs.Float64("percent", 0, "roll out to `N` % of the nodes (0-100; 100 finishes the rollout)")
	start := fs.String("start", "", "grow from 0 % at `TIME` (RFC 3339, or \"now\") ...")
	days := fs.Float64("days", 0, "... linearly to 100 % after `D` days")
	halt := fs.Bool("halt", false, "stop the rollout where it is: percent 0 (nodes that updated stay)")
	if err := fs.parse(args, 1, 1); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["percent"] {
		*percent = -1
	}
	r, err := rolloutFlags(*percent, *start, *days, *halt, time.Now())
	if err != nil {
		fs.Usage()
		return usageError(err.Error())
	}
	dir := fs.positional[0]
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	fi, err := root.Stat(approot.InfoFile)
	if err != nil {
		return err
	}
	data, err := infofile.ReadFile(root, approot.InfoFile)
	if err != nil {
		return err
	}
	edited, err := discovery.SetRollout(data, r)
	if err != nil {
		return fmt.Errorf("%s/%s: %w", dir, approot.InfoFile, err)
	}
	if err := safefs.WriteFile(root, approot.InfoFile, edited, fi.Mode().Perm()); err != nil {
		return err
	}
	info, err := discovery.ParseInfo(edited)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "%s: %s rolls out %s\nPublish it on the default branch, e.g.:\n  git commit -m %q %s && git push\n",
		approot.InfoFile, info.Tag(), describeRollout(r), info.Tag()+": rollout "+describeRollout(r), approot.InfoFile)
	return nil
}

// rolloutFlags turns the flags into a rollout: exactly one of --percent
// (percent < 0: not given), --start with --days, or --halt.
func rolloutFlags(percent float64, start string, days float64, halt bool, now time.Time) (discovery.Rollout, error) {
	forms := 0
	for _, set := range []bool{percent >= 0, start != "" || days != 0, halt} {
		if set {
			forms++
		}
	}
	if forms != 1 {
		return discovery.Rollout{}, fmt.Errorf("give one of --percent, --start with --days, --halt")
	}
	switch {
	case halt:
		zero := 0.0
		return discovery.Rollout{Percent: &zero}, nil
	case percent >= 0:
		return discovery.Rollout{Percent: &percent}, nil
	}
	at := now.UTC().Truncate(time.Second)
	if start != "now" {
		var err error
		if at, err = time.Parse(time.RFC3339, start); err != nil {
			return discovery.Rollout{}, fmt.Errorf("--start: want RFC 3339 (2026-12-01T00:00:00Z) or \"now\": %v", err)
		}
	}
	if days <= 0 {
		return discovery.Rollout{}, fmt.Errorf("--days must be positive")
	}
	return discovery.Rollout{Start: &at, Days: days}, nil
}

func describeRollout(r discovery.Rollout) string {
	if r.Percent != nil {
		return fmt.Sprintf("to %g %%", *r.Percent)
	}
	return fmt.Sprintf("from %s over %g days", r.Start.Format(time.RFC3339), r.Days)
}
