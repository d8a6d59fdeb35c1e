package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/discovery"
	"github.com/hoist-dev/hoist/internal/infofile"
	"github.com/hoist-dev/hoist/internal/safefs"
	"github.com/hoist-dev/hoist/internal/tag"
	"github.com/hoist-dev/hoist/internal/tufrepo"
)

// runReleaseRollout sets the phased rollout of a release (CONTRACT §12).
// In a git release repository it is the info.json of the work tree DIR, on
// its default branch: the tag and its signature stay as they are, only the
// default branch's rollout counts, so widening or halting is one small
// commit. In a static repository (--out) it is release vX.Y.Z's signed
// metadata, re-signed in place: its files and objects stay as they are.
func runReleaseRollout(ctx context.Context, s streams, args []string) error {
	fs := newFlags(s, "release rollout", "(--percent N | --start TIME --days D | --halt) DIR\n"+
		"   or: hoist release rollout --key KEY --out REPO [--expires 30d] [--root-key KEY] [--password-file F] (--percent N | --start TIME --days D | --halt) vX.Y.Z")
	percent := fs.Float64("percent", 0, "roll out to `N` % of the nodes (0-100; 100 finishes the rollout)")
	start := fs.String("start", "", "grow from 0 % at `TIME` (RFC 3339, or \"now\") ...")
	days := fs.Float64("days", 0, "... linearly to 100 % after `D` days")
	halt := fs.Bool("halt", false, "stop the rollout where it is: percent 0 (nodes that updated stay)")
	out, keys, expires := repoFlags(fs)
	fs.StringVar(&keys.RootKey, "root-key", "", "separate root key (default: --key), to renew a root that ends within 90 days")
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
	if *out != "" {
		d, err := checkRepoFlags(fs, *out, keys.Key, *expires)
		if err != nil {
			return err
		}
		return staticRollout(s, *out, fs.positional[0], r, tufrepo.Options{Keys: *keys, Expires: d})
	}
	if keys.Key != "" {
		fs.Usage()
		return usageError("--key re-signs a static repository: give its directory with --out")
	}
	return gitRollout(s, fs.positional[0], r)
}

// gitRollout writes rollout r into the info.json of the work tree dir.
func gitRollout(s streams, dir string, r discovery.Rollout) error {
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

// staticRollout re-signs the rollout of release version (vX.Y.Z or X.Y.Z)
// in the static repository out.
func staticRollout(s streams, out, version string, r discovery.Rollout, opts tufrepo.Options) error {
	tg := "v" + strings.TrimPrefix(version, "v")
	if _, err := tag.Parse(tg); err != nil {
		return usageError(err.Error())
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := tufrepo.SetRollout(out, tg, raw, opts); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "%s: %s rolls out %s\nUpload %s/%s, timestamp.json last, e.g. with the same sync as a publish\n",
		out, tg, describeRollout(r), out, tufrepo.MetadataDir)
	return nil
}

// rolloutFlags turns the flags into a valid rollout: exactly one of
// --percent (percent < 0: not given), --start with --days, or --halt.
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
		r := discovery.Rollout{Percent: &percent}
		return r, r.Validate()
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
	r := discovery.Rollout{Start: &at, Days: days}
	return r, r.Validate()
}

func describeRollout(r discovery.Rollout) string {
	if r.Percent != nil {
		return fmt.Sprintf("to %g %%", *r.Percent)
	}
	return fmt.Sprintf("from %s over %g days", r.Start.Format(time.RFC3339), r.Days)
}
