package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hoist-dev/hoist/internal/bench"
	"github.com/hoist-dev/hoist/internal/safefs"
)

// releaseBench runs measurements 3, 4, 6 and 7 on one generated release
// repository served over smart HTTP:
//
//	v1.0.0  opt.files random files, opt.size-mb in all
//	v1.1.0  opt.changed of them changed
//	v2.0.0  all of them changed
//
// Each run installs v1.0.0 on a fresh root (3), then cycles a copy of the
// last such root v1.0.0 → v1.1.0 (7) → rollback (6) → v2.0.0 (3) →
// rollback (6), with the bash way of each step measured right after
// hoist's. Every cycle starts from that copy, as a node that has only ever
// installed v1.0.0: a root that went through a cycle already holds the
// objects of v1.1.0 and v2.0.0 in its object store, and its updates would
// download nothing.
func (b *suite) releaseBench(ctx context.Context) ([]bench.Row, error) {
	o := b.opt
	b.logf("3/4/6/7: generating the release repository (%d files, %d MB)", o.files, o.files*o.fileSize/1e6)
	v1, v11, changedPaths := o.incrementalReleases()
	repo, g, err := b.serveRepo(ctx, "app", v1, v11,
		release{version: "2.0.0", files: o.files, size: o.fileSize, variant: same(3)},
	)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	url := g.url("app")
	dir := b.path("release")
	sums := func(tag string) string { return filepath.Join(dir, "sums-"+tag) }
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for _, tag := range []string{"v1.0.0", "v2.0.0"} {
		if err := b.writeSums(ctx, repo, tag, sums(tag)); err != nil {
			return nil, err
		}
	}

	hs, bs := series{}, series{}
	var fetched, fetchedBase []float64
	var root, pristine string // the last fresh hoist root; the bash way's v1.0.0 tree
	for run := range o.runs {
		b.logf("3: fresh install of v1.0.0, run %d of %d", run+1, o.runs)
		root = filepath.Join(dir, fmt.Sprintf("hoist-%d", run))
		pristine = filepath.Join(dir, fmt.Sprintf("bash-%d", run))
		r, br, err := b.freshInstall(ctx, g, url, "v1.0.0", sums("v1.0.0"), root, pristine)
		if err != nil {
			return nil, err
		}
		hs.addPhases("fresh/", r.phases)
		bs.addBaseline("fresh/", br)
		if run < o.runs-1 {
			os.RemoveAll(root)
			os.RemoveAll(pristine)
		}
	}

	hashBytes, err := safefs.TreeSize(pristine)
	if err != nil {
		return nil, err
	}
	b.logf("4: hashing %d MB: hoist release verify vs sha256sum -c", hashBytes/1e6)
	for i := range o.runs + 1 { // the first of each warms the page cache
		h, err := b.run(ctx, b.work, b.hoist, "release", "verify", "--pub", b.pub, pristine)
		if err != nil {
			return nil, err
		}
		s, err := b.sha256Check(ctx, pristine, sums("v1.0.0"))
		if err != nil {
			return nil, err
		}
		if i > 0 {
			hs.add("hash", h)
			bs.add("hash", s)
		}
	}

	seed := root
	for run := range o.runs {
		b.logf("7/6/3/6: v1.0.0 → v1.1.0 → rollback → v2.0.0 → rollback, run %d of %d", run+1, o.runs)
		root = filepath.Join(dir, fmt.Sprintf("cycle-%d", run))
		if _, err := b.run(ctx, dir, "cp", "-a", seed, root); err != nil {
			return nil, err
		}
		steps := []struct {
			name, want string
			args       []string
		}{
			{"incr/", "1.1.0", []string{"apply", "--to", "v1.1.0"}},
			{"rb-small/", "1.0.0", []string{"rollback"}},
			{"update/", "2.0.0", []string{"apply", "--to", "v2.0.0"}},
			{"rb-full/", "1.0.0", []string{"rollback"}},
		}
		for _, s := range steps {
			r, err := b.engine(ctx, g, root, s.args...)
			if err == nil {
				err = expectVersion(root, s.want)
			}
			if err != nil {
				return nil, err
			}
			hs.addPhases(s.name, r.phases)
			if s.name == "incr/" {
				fetched = append(fetched, float64(r.bytes))
			}
		}
		n, err := b.baselineCycle(ctx, g, url, filepath.Join(dir, "cycle"), pristine, changedPaths, sums("v2.0.0"), bs)
		if err != nil {
			return nil, err
		}
		fetchedBase = append(fetchedBase, float64(n))
		if run < o.runs-1 {
			os.RemoveAll(root)
		}
	}

	applyGoal, rollbackGoal := bench.RatioAtMost(1.3), bench.RatioAtMost(1.5)
	rollback := map[string]string{"install": "cp -a"}
	rows := phaseRows("3", fmt.Sprintf("fresh install, %d files / %d MB over HTTP", o.files, o.files*o.fileSize/1e6), applyGoal, hs, bs, "fresh/", "fresh/", applyCounterparts)
	rows = append(rows, phaseRows("3", "update v1.0.0 → v2.0.0, all files change", applyGoal, hs, bs, "update/", "update/", applyCounterparts)...)
	hoistRate, baseRate := float64(hashBytes)/hs.median("hash"), float64(hashBytes)/bs.median("hash")
	rows = append(rows,
		bench.Row{Group: "4", Measure: "manifest verification: hoist release verify vs sha256sum -c", Unit: bench.BytesPerSec,
			Hoist: hoistRate, Base: baseRate, Goal: bench.RatioAtLeast(1)},
		bench.Row{Group: "7", Measure: fmt.Sprintf("update v1.0.0 → v1.1.0 (%d files change): bytes fetched vs git fetch", o.changed), Unit: bench.Bytes,
			Hoist: bench.Median(fetched), Base: bench.Median(fetchedBase), Goal: bench.RatioAtMost(1.2)},
	)
	rows = append(rows, phaseRows("7", "  time", bench.RatioAtMost(2.0), hs, bs, "incr/", "incr/", map[string]string{"clone": "git fetch + checkout"})...)
	rows = append(rows, phaseRows("6", fmt.Sprintf("rollback v2.0.0 → v1.0.0, %d files", o.files), rollbackGoal, hs, bs, "rb-full/", "rb-full/", rollback)...)
	rows = append(rows, phaseRows("6", fmt.Sprintf("rollback v1.1.0 → v1.0.0, %d files", o.changed), rollbackGoal, hs, bs, "rb-small/", "rb-small/",
		map[string]string{"install": "cp -a + sync -f"})...)
	return rows, nil
}

// baselineCycle does the bash way of one update cycle in dir and returns
// the bytes `git fetch` of v1.1.0 into a clone of v1.0.0 took:
//   - incr: fetch v1.1.0 into a depth-1 clone of v1.0.0 and check it out;
//   - rb-small: cp -a the changed files of v1.0.0 back over it, then
//     sync -f: a copy as durable as hoist's restore;
//   - update: clone, check and copy v2.0.0 over a v1.0.0 tree;
//   - rb-full: cp -a all of v1.0.0 back over that.
func (b *suite) baselineCycle(ctx context.Context, g *gitServer, url, dir, pristine string, changed []string, sums2 string, bs series) (int64, error) {
	defer os.RemoveAll(dir)
	clone, live, stage := filepath.Join(dir, "clone"), filepath.Join(dir, "live"), filepath.Join(dir, "stage")
	if _, err := b.bash(ctx, b.work, `mkdir -p "$1" && cp -a "$2/." "$1/"`, live, pristine); err != nil {
		return 0, err
	}
	took, n, err := b.gitFetchCheckout(ctx, g, url, clone)
	if err != nil {
		return 0, err
	}
	bs.add("incr/clone", took)
	bs.add("incr/total", took)
	if took, err = b.bash(ctx, pristine, `cp -a --parents "${@:2}" "$1/" && sync -f "$1"`, append([]string{clone}, changed...)...); err != nil {
		return 0, err
	}
	bs.add("rb-small/install", took)
	bs.add("rb-small/total", took)
	r, err := b.baselineApply(ctx, url, "v2.0.0", stage, sums2, live)
	if err != nil {
		return 0, err
	}
	bs.addBaseline("update/", r)
	if took, err = b.bash(ctx, b.work, `cp -a "$1/." "$2/"`, pristine, live); err != nil {
		return 0, err
	}
	bs.add("rb-full/install", took)
	bs.add("rb-full/total", took)
	return n, nil
}

// incrementalReleases are v1.0.0 and v1.1.0 of the release of
// measurements 3, 6, 7 and 10: opt.files random files, of which v1.1.0
// changes opt.changed, whose paths it returns.
func (o options) incrementalReleases() (v1, v11 release, changedPaths []string) {
	changed := make(map[int]bool, o.changed)
	for k := range o.changed {
		i := k * o.files / o.changed
		changed[i] = true
		changedPaths = append(changedPaths, dataFile(i))
	}
	v1 = release{version: "1.0.0", files: o.files, size: o.fileSize, variant: same(1)}
	v11 = release{version: "1.1.0", files: o.files, size: o.fileSize, variant: func(i int) uint64 {
		if changed[i] {
			return 2
		}
		return 1
	}}
	return v1, v11, changedPaths
}

// gitFetchCheckout is the git way of the update v1.0.0 → v1.1.0: it
// clones v1.0.0 from url into clone (depth 1, not timed), then times `git
// fetch --depth 1` of v1.1.0 and its checkout, and returns the bytes the
// server sent for them.
func (b *suite) gitFetchCheckout(ctx context.Context, g *gitServer, url, clone string) (time.Duration, int64, error) {
	if _, err := b.bash(ctx, b.work, `git -c advice.detachedHead=false clone -q --depth 1 --branch v1.0.0 "$1" "$2"`, url, clone); err != nil {
		return 0, 0, err
	}
	var took time.Duration
	n, err := g.counted(func() error {
		var err error
		took, err = b.bash(ctx, clone, `git fetch -q --depth 1 origin tag v1.1.0 && git -c advice.detachedHead=false checkout -q v1.1.0`)
		return err
	})
	return took, n, err
}
