package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hoist-dev/hoist/internal/bench"
)

// scaleBench is measurement 8: a fresh install at each of opt.scale file
// counts (files of opt.scaleSize bytes; each release holds the previous
// one's files plus new ones), hoist against the bash way, per file. The
// growth row divides the time per file at the largest count by that at the
// one before: linear work gives 1×, a quadratic step the step's factor.
// The phases of the largest count show where per-file costs go.
func (b *suite) scaleBench(ctx context.Context) ([]bench.Row, error) {
	o := b.opt
	b.logf("8: generating releases of %v files of %d bytes", o.scale, o.scaleSize)
	var rels []release
	for k, n := range o.scale {
		rels = append(rels, release{version: fmt.Sprintf("%d.0.0", k+1), files: n, size: o.scaleSize, variant: same(1)})
	}
	repo, g, err := b.serveRepo(ctx, "scale", rels...)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	url := g.url("scale")
	dir := b.path("scale")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var rows []bench.Row
	hoistT, baseT := make([]float64, len(rels)), make([]float64, len(rels))
	hs, bs := series{}, series{} // phases of the largest count
	for k, rel := range rels {
		tag := "v" + rel.version
		sums := filepath.Join(dir, "sums-"+tag)
		if err := b.writeSums(ctx, repo, tag, sums); err != nil {
			return nil, err
		}
		var ht, bt []time.Duration
		for run := range o.runs {
			b.logf("8: fresh install of %d files, run %d of %d", rel.files, run+1, o.runs)
			root, live := filepath.Join(dir, "hoist"), filepath.Join(dir, "bash")
			r, br, err := b.freshInstall(ctx, g, url, tag, sums, root, live)
			if err != nil {
				return nil, err
			}
			ht = append(ht, r.took)
			bt = append(bt, br.total())
			if k == len(rels)-1 {
				hs.addPhases("", r.phases)
				bs.addBaseline("", br)
			}
			for _, d := range []string{root, live} {
				if err := os.RemoveAll(d); err != nil {
					return nil, err
				}
			}
		}
		hoistT[k], baseT[k] = bench.Median(ht).Seconds(), bench.Median(bt).Seconds()
		rows = append(rows, bench.Row{Group: "8", Measure: fmt.Sprintf("fresh install of %d files: time per file", rel.files),
			Unit: bench.Seconds, Hoist: hoistT[k] / float64(rel.files), Base: baseT[k] / float64(rel.files)})
	}
	if n := len(rels); n >= 2 {
		small, big := rels[n-2].files, rels[n-1].files
		growth := func(t []float64) float64 { return (t[n-1] / float64(big)) / (t[n-2] / float64(small)) }
		rows = append(rows, bench.Row{Group: "8",
			Measure: fmt.Sprintf("growth: time per file at %d ÷ at %d files", big, small),
			Unit:    bench.Times, Hoist: growth(hoistT), Base: growth(baseT), Goal: bench.AtMost(1.5, bench.Times)})
	}
	last := rels[len(rels)-1]
	rows = append(rows, phaseRows("8", fmt.Sprintf("fresh install of %d files", last.files), bench.Goal{}, hs, bs, "", "", applyCounterparts)...)
	return rows, nil
}
