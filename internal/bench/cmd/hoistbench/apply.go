package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/bench"
	"github.com/hoist-dev/hoist/internal/manifest"
)

// engineRun is one timed run of `hoist apply` or `hoist rollback`.
type engineRun struct {
	took   time.Duration
	phases phases
	bytes  int64 // fetched from the server meanwhile
}

// byteCounter is a server that counts what it sent: gitServer, nginxServer.
type byteCounter interface {
	// counted runs fn and returns the response bytes sent meanwhile.
	counted(fn func() error) (int64, error)
}

// engine runs `hoist args… --root root` and reads its phases from the
// journal.
func (b *suite) engine(ctx context.Context, g byteCounter, root string, args ...string) (engineRun, error) {
	var r engineRun
	quiesce()
	var start time.Time
	n, err := g.counted(func() error {
		var err error
		// Not before counted: nginxServer's waits for its log to settle
		// (100 ms or more), which would count as the run's prepare.
		start = time.Now()
		r.took, err = b.run(ctx, b.work, b.hoist, append(args, "--root", root)...)
		return err
	})
	if err != nil {
		return r, err
	}
	r.bytes = n
	r.phases, err = readPhases(root, start, start.Add(r.took))
	return r, err
}

// newRoot makes an app root at dir whose releases come from url.
func (b *suite) newRoot(ctx context.Context, dir, url string) error {
	_, err := b.run(ctx, b.work, b.hoist, "init", dir, "--repo", url, "--pub", b.pub)
	return err
}

// installedVersion reads the version of root's info.json.
func installedVersion(root string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, approot.InfoFile))
	if err != nil {
		return "", err
	}
	var info struct{ Version string }
	err = json.Unmarshal(data, &info)
	return info.Version, err
}

// expectVersion checks that a run left root at version: a benchmark of a
// run that did the wrong thing would mean nothing.
func expectVersion(root, version string) error {
	v, err := installedVersion(root)
	if err == nil && v != version {
		err = fmt.Errorf("%s holds v%s, want v%s", root, v, version)
	}
	return err
}

// freshInstall installs tag from url on a new hoist root and, the bash
// way, into the new directory live, and leaves both in place.
func (b *suite) freshInstall(ctx context.Context, g *gitServer, url, tag, sums, hoistRoot, live string) (engineRun, baselineRun, error) {
	if err := b.newRoot(ctx, hoistRoot, url); err != nil {
		return engineRun{}, baselineRun{}, err
	}
	r, err := b.engine(ctx, g, hoistRoot, "apply", "--to", tag)
	if err == nil {
		err = expectVersion(hoistRoot, strings.TrimPrefix(tag, "v"))
	}
	if err != nil {
		return r, baselineRun{}, err
	}
	stage := live + "-stage"
	defer os.RemoveAll(stage)
	br, err := b.baselineApply(ctx, url, tag, stage, sums, live)
	return r, br, err
}

// baselineRun is one timed run of the bash way: clone, check, copy.
type baselineRun struct {
	clone, verify, install time.Duration
}

func (r baselineRun) total() time.Duration { return r.clone + r.verify + r.install }

// baselineApply installs tag from url into live the way a script would:
// `git clone --depth 1` into stage (dropping .git, which hoist does not
// install either), `sha256sum -c` of the release's files against sums,
// `cp -a` into live.
func (b *suite) baselineApply(ctx context.Context, url, tag, stage, sums, live string) (baselineRun, error) {
	var r baselineRun
	var err error
	if r.clone, err = b.bash(ctx, b.work, `git -c advice.detachedHead=false clone -q --depth 1 --branch "$1" "$2" "$3" && rm -rf "$3/.git"`, tag, url, stage); err != nil {
		return r, err
	}
	if r.verify, err = b.sha256Check(ctx, stage, sums); err != nil {
		return r, err
	}
	if err := os.MkdirAll(live, 0o755); err != nil {
		return r, err
	}
	r.install, err = b.bash(ctx, b.work, `cp -a "$1/." "$2/"`, stage, live)
	return r, err
}

// sha256Check runs `sha256sum -c` of the sums file in dir.
func (b *suite) sha256Check(ctx context.Context, dir, sums string) (time.Duration, error) {
	return b.bash(ctx, dir, `sha256sum --quiet --strict -c "$1"`, sums)
}

// writeSums writes the sha256sum -c list of tag's release (what a release
// made for a bash updater would ship instead of a signed manifest), made
// from the manifest in the repository at repo.
func (b *suite) writeSums(ctx context.Context, repo, tag, sums string) error {
	data, err := b.output(ctx, repo, "git", "show", tag+":"+approot.ManifestFile)
	if err != nil {
		return err
	}
	return writeSumsOf(data, sums)
}

// writeSumsOf writes the sha256sum -c list of the files of manifest data.
func writeSumsOf(data []byte, sums string) error {
	m, err := manifest.Parse(data)
	if err != nil {
		return err
	}
	var out strings.Builder
	for _, f := range m.Files {
		if !f.IsLink() {
			fmt.Fprintf(&out, "%s  %s\n", f.SHA256, f.Path)
		}
	}
	return os.WriteFile(sums, []byte(out.String()), 0o644)
}

// series collects the repeated timings of one figure.
type series map[string][]time.Duration

func (s series) add(name string, d time.Duration) { s[name] = append(s[name], d) }

func (s series) median(name string) float64 {
	if len(s[name]) == 0 {
		return math.NaN()
	}
	return bench.Median(s[name]).Seconds()
}

// addBaseline adds the steps of r under prefix+phase, and the total.
func (s series) addBaseline(prefix string, r baselineRun) {
	s.add(prefix+"clone", r.clone)
	s.add(prefix+"verify", r.verify)
	s.add(prefix+"install", r.install)
	s.add(prefix+"total", r.total())
}

// addPhases adds every phase of p under prefix+phase, and the total.
func (s series) addPhases(prefix string, p phases) {
	for _, ph := range phaseOrder {
		s.add(prefix+ph, p[ph])
	}
	s.add(prefix+"total", p.total())
}

// applyCounterparts names the baseline step doing each phase's work in
// an apply.
var applyCounterparts = map[string]string{"clone": "git clone --depth 1", "verify": "sha256sum -c", "install": "cp -a"}

// phaseRows are the rows of an engine run split in phases, each phase
// next to the baseline step that does the same work (named in
// counterparts) if there is one.
func phaseRows(group, what string, goal bench.Goal, hs, bs series, hp, bp string, counterparts map[string]string) []bench.Row {
	rows := []bench.Row{{Group: group, Measure: what + ": total", Unit: bench.Seconds,
		Hoist: hs.median(hp + "total"), Base: bs.median(bp + "total"), Goal: goal}}
	for _, ph := range phaseOrder {
		h := hs.median(hp + ph)
		if h < 1e-3 && counterparts[ph] == "" {
			continue // a phase this run does not have (no backup on a fresh root)
		}
		measure, base := "  hoist "+ph, math.NaN()
		if c := counterparts[ph]; c != "" {
			measure, base = "  "+ph+" vs "+c, bs.median(bp+ph)
		}
		rows = append(rows, bench.Row{Group: group, Measure: measure, Unit: bench.Seconds, Hoist: h, Base: base})
	}
	return rows
}
