package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/bench"
	"github.com/hoist-dev/hoist/internal/manifest"
	"github.com/hoist-dev/hoist/internal/nginx"
	"github.com/hoist-dev/hoist/internal/tufrepo"
)

// staticBench is measurement 10: hoist's static release repository
// (`hoist release publish --tarball`) served by a real nginx, against
// what a user would do without hoist:
//
//   - a fresh install of v1.0.0 (the release of measurement 3) against
//     `curl` of the release's tarball, `tar x` and `sha256sum -c`;
//   - the update v1.0.0 → v1.1.0 of a copy of that root: the bytes nginx
//     sent, against the sizes of the files v1.1.0 changes plus the signed
//     metadata the update must read; its time against `git fetch --depth
//     1` + `git checkout` of the same releases from a git server;
//   - a fresh install of one file as big as that release, killed (-9)
//     halfway through its download and run again: the bytes nginx sent
//     for both runs against the file's size.
func (b *suite) staticBench(ctx context.Context) ([]bench.Row, error) {
	o := b.opt
	dir, site := b.path("static"), b.path("static", "site")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	v1, v11, _ := o.incrementalReleases()
	b.logf("10: generating the release (%d files, %d MB) as a git and a static repository", o.files, o.files*o.fileSize/1e6)
	// The repository as it was after each release: a node installs
	// v1.0.0 before v1.1.0 is published, so that the update reads the
	// new metadata as well as the new files.
	var published []string
	publish := func(tree string) error {
		if _, err := b.run(ctx, b.work, b.hoist, "release", "publish", "--key", b.key, "--out", site, "--tarball", tree); err != nil {
			return err
		}
		snapshot := fmt.Sprintf("%s-%d", site, len(published)+1)
		published = append(published, snapshot)
		_, err := b.run(ctx, b.work, "cp", "-a", site, snapshot)
		return err
	}
	repo, err := b.makeRepo(ctx, "static", publish, v1, v11)
	if err != nil {
		return nil, err
	}
	g, err := serveGit(filepath.Dir(repo))
	if err != nil {
		return nil, err
	}
	defer g.Close()
	// nginx serves the symlink www, pointed at one of published.
	www := filepath.Join(dir, "www")
	serve := func(snapshot string) error {
		os.Remove(www + ".new")
		if err := os.Symlink(snapshot, www+".new"); err != nil {
			return err
		}
		return os.Rename(www+".new", www)
	}
	if err := serve(published[0]); err != nil {
		return nil, err
	}
	srv, err := b.startNginx(ctx, "nginx", www, "")
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	sums := filepath.Join(dir, "sums-v1.0.0")
	if err := writeStaticSums(site, "v1.0.0", sums); err != nil {
		return nil, err
	}
	need, err := updateBytes(published[1], "v1.0.0", "v1.1.0")
	if err != nil {
		return nil, err
	}
	tarball, err := tarballURL(srv.URL, site, "v1.0.0")
	if err != nil {
		return nil, err
	}

	hs, bs := series{}, series{}
	var fetched []float64
	for run := range o.runs {
		b.logf("10: static fresh install of v1.0.0 and update to v1.1.0, run %d of %d", run+1, o.runs)
		root := filepath.Join(dir, fmt.Sprintf("hoist-%d", run))
		if err := b.newRoot(ctx, root, srv.URL); err != nil {
			return nil, err
		}
		if err := serve(published[0]); err != nil {
			return nil, err
		}
		r, err := b.engine(ctx, srv, root, "apply", "--to", "v1.0.0")
		if err == nil {
			err = expectVersion(root, "1.0.0")
		}
		if err != nil {
			return nil, err
		}
		hs.addPhases("fresh/", r.phases)
		br, err := b.baselineTarball(ctx, tarball, sums, filepath.Join(dir, "bash"))
		if err != nil {
			return nil, err
		}
		bs.addBaseline("fresh/", br)

		updated := root + "-update"
		if _, err := b.run(ctx, dir, "cp", "-a", root, updated); err != nil {
			return nil, err
		}
		if err := serve(published[1]); err != nil {
			return nil, err
		}
		if r, err = b.engine(ctx, srv, updated, "apply", "--to", "v1.1.0"); err == nil {
			err = expectVersion(updated, "1.1.0")
		}
		if err != nil {
			return nil, err
		}
		hs.addPhases("incr/", r.phases)
		fetched = append(fetched, float64(r.bytes))
		clone := filepath.Join(dir, "clone")
		took, _, err := b.gitFetchCheckout(ctx, g, g.url("static"), clone)
		if err != nil {
			return nil, err
		}
		bs.add("incr/clone", took)
		bs.add("incr/total", took)
		for _, d := range []string{root, updated, clone} {
			if err := os.RemoveAll(d); err != nil {
				return nil, err
			}
		}
	}
	resumed, full, err := b.resumeBench(ctx, filepath.Join(dir, "big"), o.files*o.fileSize)
	if err != nil {
		return nil, err
	}

	rows := phaseRows("10", fmt.Sprintf("static fresh install, %d files / %d MB from nginx", o.files, o.files*o.fileSize/1e6),
		bench.RatioAtMost(1.3), hs, bs, "fresh/", "fresh/", map[string]string{"clone": "curl + tar x", "verify": "sha256sum -c"})
	rows = append(rows, bench.Row{Group: "10", Measure: fmt.Sprintf("static update v1.0.0 → v1.1.0 (%d files change): bytes from nginx vs changed files + metadata", o.changed),
		Unit: bench.Bytes, Hoist: bench.Median(fetched), Base: float64(need), Goal: ratioPlusAtMost(1.1, 64<<10)})
	rows = append(rows, phaseRows("10", "  time", bench.RatioAtMost(2.0), hs, bs, "incr/", "incr/", map[string]string{"clone": "git fetch + checkout"})...)
	rows = append(rows, bench.Row{Group: "10", Measure: "resume: kill -9 at 50 % of one 50 MB file, rerun: bytes from nginx vs the file",
		Unit: bench.Bytes, Hoist: float64(resumed), Base: float64(full), Goal: bench.RatioAtMost(1.1)})
	return rows, nil
}

// ratioPlusAtMost is met when hoist ≤ r × baseline + slack.
func ratioPlusAtMost(r, slack float64) bench.Goal {
	return bench.Goal{Text: fmt.Sprintf("≤ %.1f× + %s", r, bench.Bytes.Format(slack)),
		Check: func(h, ratio float64) bool { return h <= r*(h/ratio)+slack }}
}

// startNginx serves root with nginx, its files in the work directory
// under static/name.
func (b *suite) startNginx(ctx context.Context, name, root, serverConfig string) (*nginxServer, error) {
	prefix := b.path("static", name)
	if err := os.MkdirAll(prefix, 0o755); err != nil {
		return nil, err
	}
	s, err := nginx.Start(ctx, prefix, nginx.Config{Root: root, Server: serverConfig})
	return &nginxServer{s}, err
}

// nginxServer counts the body bytes nginx sent, as gitServer does.
type nginxServer struct{ *nginx.Server }

func (s *nginxServer) counted(fn func() error) (int64, error) {
	before, err := s.settled()
	if err != nil {
		return 0, err
	}
	if err := fn(); err != nil {
		return 0, err
	}
	after, err := s.settled()
	return after - before, err
}

// settled returns the body bytes of every request logged, once the log
// has stopped growing: nginx logs a request just after its last byte, or
// when it notices that its client is gone.
func (s *nginxServer) settled() (int64, error) {
	last := -1
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		reqs, err := s.Requests()
		if err != nil {
			return 0, err
		}
		if len(reqs) == last || time.Now().After(deadline) {
			var n int64
			for _, r := range reqs {
				n += r.BodyBytes
			}
			return n, nil
		}
		last = len(reqs)
	}
}

// baselineTarball installs the release into a new directory live the way
// a script would: `curl` of its tarball, `tar x`, `sha256sum -c` against
// sums; then removes it.
func (b *suite) baselineTarball(ctx context.Context, url, sums, live string) (baselineRun, error) {
	var r baselineRun
	defer os.RemoveAll(live)
	defer os.Remove(live + ".tar.gz")
	var err error
	if r.clone, err = b.bash(ctx, b.work, `mkdir -p "$3" && curl -sSf -o "$2" "$1" && tar -xzf "$2" -C "$3"`, url, live+".tar.gz", live); err != nil {
		return r, err
	}
	r.verify, err = b.sha256Check(ctx, live, sums)
	return r, err
}

// manifestOf reads the signed manifest of release tg in the static
// repository site.
func manifestOf(site, tg string) (*manifest.Manifest, []byte, error) {
	data, err := os.ReadFile(filepath.Join(site, tufrepo.TargetsDir, tufrepo.Target(tg, tufrepo.ManifestName)))
	if err != nil {
		return nil, nil, err
	}
	m, err := manifest.Parse(data)
	return m, data, err
}

func writeStaticSums(site, tg, sums string) error {
	_, data, err := manifestOf(site, tg)
	if err != nil {
		return err
	}
	return writeSumsOf(data, sums)
}

// tarballURL is where nginx serves release tg's tarball.
func tarballURL(base, site, tg string) (string, error) {
	m, _, err := manifestOf(site, tg)
	if err != nil {
		return "", err
	}
	return base + "/" + tufrepo.TargetsDir + "/" + tufrepo.Target(tg, tufrepo.TarballName(m.App)), nil
}

// updateBytes is what an update from release from to release to must
// read at the least: the files whose content is new in to, the signed
// metadata (timestamp, snapshot and targets of the newest version), and
// to's manifest, signature and object sizes.
func updateBytes(site, from, to string) (int64, error) {
	old, _, err := manifestOf(site, from)
	if err != nil {
		return 0, err
	}
	m, _, err := manifestOf(site, to)
	if err != nil {
		return 0, err
	}
	had := map[string]bool{}
	for _, f := range old.Files {
		had[f.SHA256] = true
	}
	var files []string
	for _, f := range m.Files {
		if !f.IsLink() && !had[f.SHA256] {
			had[f.SHA256] = true
			files = append(files, tufrepo.Object(f.SHA256))
		}
	}
	for _, role := range []string{"snapshot", "targets"} {
		newest, err := newestVersion(site, role)
		if err != nil {
			return 0, err
		}
		files = append(files, filepath.Join(tufrepo.MetadataDir, newest))
	}
	files = append(files, filepath.Join(tufrepo.MetadataDir, "timestamp.json"))
	for _, name := range []string{tufrepo.ManifestName, tufrepo.SignatureName, tufrepo.ObjectsName} {
		files = append(files, filepath.Join(tufrepo.TargetsDir, tufrepo.Target(to, name)))
	}
	var n int64
	for _, f := range files {
		fi, err := os.Stat(filepath.Join(site, f))
		if err != nil {
			return 0, err
		}
		n += fi.Size()
	}
	return n, nil
}

// newestVersion is the name of the newest N.role.json in site's metadata.
func newestVersion(site, role string) (string, error) {
	for v := 1; ; v++ {
		name := fmt.Sprintf("%d.%s.json", v, role)
		if _, err := os.Stat(filepath.Join(site, tufrepo.MetadataDir, name)); err != nil {
			if v == 1 {
				return "", err
			}
			return fmt.Sprintf("%d.%s.json", v-1, role), nil
		}
	}
}

// resumeBench publishes a release of one file of size bytes into dir and
// installs it from an nginx limited to 25 MB/s (so that the half-way
// point can be seen), killing `hoist apply` with SIGKILL once half of the
// file is on disk and running it again. It returns the body bytes nginx
// sent for both runs, and the file's size.
func (b *suite) resumeBench(ctx context.Context, dir string, size int) (int64, int64, error) {
	b.logf("10: resume: one file of %d MB, kill -9 half way, rerun", size/1e6)
	src, site, root := filepath.Join(dir, "src"), filepath.Join(dir, "site"), filepath.Join(dir, "hoist")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return 0, 0, err
	}
	if err := writeRelease(src, release{version: "1.0.0", files: 1, size: size, variant: same(1)}); err != nil {
		return 0, 0, err
	}
	if _, err := b.run(ctx, b.work, b.hoist, "release", "publish", "--key", b.key, "--out", site, src); err != nil {
		return 0, 0, err
	}
	m, _, err := manifestOf(site, "v1.0.0")
	if err != nil {
		return 0, 0, err
	}
	f, ok := m.Lookup(dataFile(0))
	if !ok {
		return 0, 0, fmt.Errorf("%s is not in the release", dataFile(0))
	}
	obj, err := os.Stat(filepath.Join(site, tufrepo.Object(f.SHA256)))
	if err != nil {
		return 0, 0, err
	}
	srv, err := b.startNginx(ctx, "nginx-big", site, "limit_rate 25m;")
	if err != nil {
		return 0, 0, err
	}
	defer srv.Stop()
	if err := b.newRoot(ctx, root, srv.URL); err != nil {
		return 0, 0, err
	}
	n, err := srv.counted(func() error {
		if err := b.killHalfway(ctx, root, f.SHA256, obj.Size()); err != nil {
			return err
		}
		_, err := b.run(ctx, b.work, b.hoist, "apply", "--to", "v1.0.0", "--root", root)
		return err
	})
	if err == nil {
		err = expectVersion(root, "1.0.0")
	}
	return n, obj.Size(), err
}

// killHalfway starts `hoist apply --to v1.0.0` on root and kills it with
// SIGKILL once half of the object sum (of size bytes) is downloaded.
func (b *suite) killHalfway(ctx context.Context, root, sum string, size int64) error {
	cmd := exec.CommandContext(ctx, b.hoist, "apply", "--to", "v1.0.0", "--root", root)
	cmd.Env = cleanEnv()
	if err := cmd.Start(); err != nil {
		return err
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if n := partialSize(root, sum); n >= size/2 {
			if n == size {
				return fmt.Errorf("the download ended before it could be interrupted")
			}
			return cmd.Process.Kill()
		}
	}
	return errors.New("the download did not reach half of the file within a minute")
}

// partialSize is the size of the partial download of object sum under
// root's .hoist/, 0 while there is none.
func partialSize(root, sum string) int64 {
	var n int64
	filepath.WalkDir(filepath.Join(root, approot.StateDir), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == sum && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n = fi.Size()
			}
			return filepath.SkipAll
		}
		return nil
	})
	return n
}
