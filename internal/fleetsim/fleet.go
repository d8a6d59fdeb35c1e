package fleetsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/hoist-dev/hoist/internal/discovery"
	"github.com/hoist-dev/hoist/internal/gitserver"
	"github.com/hoist-dev/hoist/internal/httpcache"
	"github.com/hoist-dev/hoist/internal/nginx"
	"github.com/hoist-dev/hoist/internal/release"
	"github.com/hoist-dev/hoist/internal/tufclient"
	"github.com/hoist-dev/hoist/internal/tufrepo"
)

// Options shape a simulation.
type Options struct {
	Nodes  int
	Work   string        // an empty directory for repositories and server files
	Factor float64       // simulated seconds per second (0: 1,000)
	Steady time.Duration // simulated length of the "nothing new" window (0: 2h)
	// Phase is how long, simulated, the fleet runs at least after a
	// release with percent 10 is published (0: 1.25h); it runs on until
	// every node has checked since.
	Phase time.Duration
	Seed  uint64
	// ReadyLimit bounds the wall-clock wait for every node to check after
	// the start and after the publish.
	ReadyLimit time.Duration
}

func (o *Options) defaults() {
	if o.Factor == 0 {
		o.Factor = 1000
	}
	if o.Steady == 0 {
		o.Steady = 2 * time.Hour
	}
	if o.Phase == 0 {
		o.Phase = Interval * 5 / 4
	}
	if o.ReadyLimit == 0 {
		o.ReadyLimit = 3 * time.Minute
	}
}

// Static simulates nodes checking a static (TUF) repository served by
// nginx: a steady window with nothing new, then a release with
// `"rollout": {"percent": 10}`.
func Static(ctx context.Context, opts Options) (Result, error) {
	opts.defaults()
	start := time.Now()
	site, key := filepath.Join(opts.Work, "site"), filepath.Join(opts.Work, "release")
	if err := release.GenerateKey(key, ""); err != nil {
		return Result{}, err
	}
	if err := publish(ctx, opts.Work, site, key+".key", "1.0.0", ""); err != nil {
		return Result{}, err
	}
	root, err := os.ReadFile(filepath.Join(site, tufrepo.MetadataDir, "root.json"))
	if err != nil {
		return Result{}, err
	}
	prefix := filepath.Join(opts.Work, "nginx")
	if err := os.Mkdir(prefix, 0o700); err != nil {
		return Result{}, err
	}
	srv, err := startNginx(ctx, prefix, site)
	if err != nil {
		return Result{}, err
	}
	defer srv.Stop()
	client := &http.Client{Timeout: time.Minute}
	res := Result{Nodes: opts.Nodes}
	if res.Baseline, err = naiveGet(ctx, client, srv, "/"+tufrepo.MetadataDir+"/timestamp.json"); err != nil {
		return res, err
	}
	f := &fleet{
		clock: NewClock(time.Now(), opts.Factor),
		open: func(int) (discovery.Source, error) {
			return discovery.OpenStatic(tufclient.Options{URL: srv.URL, Root: root, Retries: 2}, httpcache.NewMemory()), nil
		},
		download: func(ctx context.Context, tag string) error {
			return get(ctx, client, srv.URL+"/"+tufrepo.TargetsDir+"/"+tufrepo.Target(tag, tufrepo.ManifestName))
		},
	}
	var steadyFrom, steadyTo, phaseFrom, phaseTo time.Time
	err = f.run(ctx, opts, func(ctx context.Context) error {
		var err error
		if steadyFrom, steadyTo, err = f.steady(ctx, opts); err != nil {
			return err
		}
		// The release appears when publish renames timestamp.json, its
		// last step.
		if err := publish(ctx, opts.Work, site, key+".key", "1.1.0", `{"percent":10}`); err != nil {
			return err
		}
		f.changed()
		phaseFrom = f.clock.Now()
		phaseTo, err = f.waitCaughtUp(ctx, opts.Nodes, phaseFrom.Add(opts.Phase), opts.ReadyLimit)
		return err
	})
	res.Failures, res.LastError, res.Wall = f.failures.Load(), f.err(), time.Since(start)
	if err != nil {
		return res, err
	}
	srv.Stop() // flushes the log; the deferred Stop is then a no-op
	hits, err := nginxHits(srv)
	if err != nil {
		return res, err
	}
	res.Steady, res.SteadyHours = window(hits, f.clock, steadyFrom, steadyTo), steadyTo.Sub(steadyFrom).Hours()
	res.setChecks(f.checksIn(steadyFrom, steadyTo))
	res.Phase = window(hits, f.clock, phaseFrom, phaseTo)
	res.Downloaded = res.Phase.count("/" + tufrepo.TargetsDir + "/v1.1.0/" + tufrepo.ManifestName)
	return res, nil
}

// Git simulates nodes checking a git repository served by git
// http-backend while nothing is new.
func Git(ctx context.Context, opts Options) (Result, error) {
	opts.defaults()
	start := time.Now()
	project := filepath.Join(opts.Work, "git")
	if err := makeGitRepo(ctx, filepath.Join(project, "releases")); err != nil {
		return Result{}, err
	}
	srv, err := gitserver.Start(project)
	if err != nil {
		return Result{}, err
	}
	defer srv.Close()
	url := srv.URL + "/releases"
	res := Result{Nodes: opts.Nodes}
	before := len(srv.Requests())
	if out, err := gitCmd(ctx, "", "ls-remote", url).CombinedOutput(); err != nil {
		return res, fmt.Errorf("git ls-remote: %v: %s", err, out)
	}
	for deadline := time.Now().Add(5 * time.Second); len(srv.Requests()) == before && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // the server records a request when its connection closes
	}
	for _, r := range srv.Requests()[before:] {
		res.Baseline += r.Bytes
	}
	f := &fleet{
		clock: NewClock(time.Now(), opts.Factor),
		open:  func(int) (discovery.Source, error) { return discovery.Open(url, "") },
		download: func(context.Context, string) error {
			return errors.New("nothing is published during the git simulation")
		},
	}
	var from, to time.Time
	err = f.run(ctx, opts, func(ctx context.Context) (err error) {
		from, to, err = f.steady(ctx, opts)
		return err
	})
	res.Failures, res.LastError, res.Wall = f.failures.Load(), f.err(), time.Since(start)
	if err != nil {
		return res, err
	}
	srv.Close() // records the connections it closes
	res.Steady, res.SteadyHours = window(gitHits(srv), f.clock, from, to), to.Sub(from).Hours()
	res.setChecks(f.checksIn(from, to))
	return res, nil
}

// run starts the nodes, runs body, then stops the nodes.
func (f *fleet) run(ctx context.Context, opts Options, body func(context.Context) error) error {
	nodes, stop := context.WithCancel(ctx)
	wait, err := f.start(nodes, opts.Nodes, opts.Seed)
	if err == nil {
		err = body(ctx)
	}
	stop()
	wait()
	return err
}

// steady waits until the first hour is over and every node has checked
// once, then for opts.Steady: the window with nothing new.
func (f *fleet) steady(ctx context.Context, opts Options) (from, to time.Time, err error) {
	if from, err = f.waitCaughtUp(ctx, opts.Nodes, f.clock.Now().Add(Interval), opts.ReadyLimit); err != nil {
		return from, to, err
	}
	to = from.Add(opts.Steady)
	return from, to, f.clock.SleepUntil(ctx, to)
}

// publish adds release version, with rollout (JSON, or ""), to the static
// repository site.
func publish(ctx context.Context, work, site, key, version, rollout string) error {
	src := filepath.Join(work, "src-"+version)
	if err := os.MkdirAll(filepath.Join(src, "app"), 0o755); err != nil {
		return err
	}
	info := `{"version":"` + version + `","app":"fleet","name":"Fleet"`
	if rollout != "" {
		info += `,"rollout":` + rollout
	}
	if err := os.WriteFile(filepath.Join(src, "info.json"), []byte(info+"}\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(src, "app", "compose.yml"), []byte("version: "+version+"\n"), 0o644); err != nil {
		return err
	}
	_, err := tufrepo.Publish(ctx, src, site, tufrepo.Options{Keys: tufrepo.Keys{Key: key}})
	return err
}

// naiveGet makes an unconditional GET of path and returns its bytes as
// nginx logged them.
func naiveGet(ctx context.Context, client *http.Client, srv *nginx.Server, path string) (int64, error) {
	if err := get(ctx, client, srv.URL+path); err != nil {
		return 0, err
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		hits, err := nginxHits(srv)
		if err != nil {
			return 0, err
		}
		if len(hits) > 0 && hits[len(hits)-1].Path == path {
			return hits[len(hits)-1].Bytes, nil
		}
	}
	return 0, fmt.Errorf("nginx did not log GET %s", path)
}

func get(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// makeGitRepo makes a repository at dir whose default branch and tag
// v1.0.0 hold release 1.0.0's info.json.
func makeGitRepo(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "info.json"), []byte(`{"version":"1.0.0","app":"fleet","name":"Fleet"}`+"\n"), 0o644); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "info.json"},
		{"commit", "-qm", "release 1.0.0"},
		{"tag", "v1.0.0"},
	} {
		if out, err := gitCmd(ctx, dir, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("git %s: %v: %s", args[0], err, out)
		}
	}
	return nil
}

func gitCmd(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-c", "user.name=fleet", "-c", "user.email=fleet@hoist.invalid", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir, cmd.Env = dir, gitserver.Env()
	return cmd
}
