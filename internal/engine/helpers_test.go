package engine_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/hoist-dev/hoist/internal/config"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
	"github.com/hoist-dev/hoist/internal/testutil/testbin"
	"github.com/hoist-dev/hoist/internal/testutil/treesnap"
)

// fixture is an app root made by the real `hoist init`, releasing from a
// real git repository.
type fixture struct {
	t    *testing.T
	repo *releaserepo.Repo
	root string
}

func newFixture(t *testing.T, rels ...releaserepo.Release) *fixture {
	t.Helper()
	return newFixtureAt(t, filepath.Join(t.TempDir(), "app"), releaserepo.New(t, rels...))
}

// atV100 returns a fixture of the first two default releases with v1.0.0
// applied.
func atV100(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t, releaserepo.DefaultReleases()[:2]...)
	f.must("apply", "--to", "v1.0.0")
	return f
}

func newFixtureAt(t *testing.T, root string, repo *releaserepo.Repo) *fixture {
	t.Helper()
	f := &fixture{t: t, repo: repo, root: root}
	if r := f.exec(nil, "init", root, "--repo", repo.FileURL(), "--pub", repo.PubFile); r.Code != 0 {
		t.Fatalf("hoist init: %d %s", r.Code, r.Stderr)
	}
	return f
}

// exec runs the real hoist binary with env added to the environment.
func (f *fixture) exec(env []string, args ...string) testbin.Result {
	f.t.Helper()
	return testbin.Run(f.t, env, testbin.Path(f.t, "hoist"), args...)
}

// hoist runs hoist COMMAND ARGS --root ROOT.
func (f *fixture) hoist(args ...string) testbin.Result {
	f.t.Helper()
	return f.exec(nil, append(args, "--root", f.root)...)
}

// must runs hoist and fails the test unless it exits 0.
func (f *fixture) must(args ...string) testbin.Result {
	f.t.Helper()
	r := f.hoist(args...)
	if r.Code != 0 {
		f.t.Fatalf("hoist %v: %s", args, r)
	}
	return r
}

func (f *fixture) path(rel string) string { return filepath.Join(f.root, filepath.FromSlash(rel)) }

func (f *fixture) status() statusfile.Status {
	f.t.Helper()
	data, err := os.ReadFile(f.path("statuses/" + statusfile.Name))
	if err != nil {
		f.t.Fatal(err)
	}
	st, err := statusfile.Parse(data)
	if err != nil {
		f.t.Fatal(err)
	}
	return st
}

// request queues an update the way the manager does.
func (f *fixture) request(updateTo string) {
	f.t.Helper()
	st := statusfile.Status{State: statusfile.Installing, Description: "Queued", UpdateTo: updateTo}
	data, _ := json.Marshal(st)
	if err := os.WriteFile(f.path("statuses/"+statusfile.Name), data, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// editConfig changes .hoist/config.json.
func (f *fixture) editConfig(edit func(*config.Config)) {
	f.t.Helper()
	data, err := os.ReadFile(f.path(".hoist/config.json"))
	if err != nil {
		f.t.Fatal(err)
	}
	var c config.Config
	if err := json.Unmarshal(data, &c); err != nil {
		f.t.Fatal(err)
	}
	edit(&c)
	data, _ = json.Marshal(c)
	if err := os.WriteFile(f.path(".hoist/config.json"), data, 0o600); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) read(rel string) string {
	f.t.Helper()
	data, err := os.ReadFile(f.path(rel))
	if err != nil {
		f.t.Fatal(err)
	}
	return string(data)
}

// liveSkip leaves out of root snapshots the root's bookkeeping, the status
// reserve and the scripts' run log (checked on its own).
var liveSkip = append([]string{".hoist/status-reserve", releaserepo.ScriptLog}, treesnap.Bookkeeping...)

// snap is the snapshot of the live root, without liveSkip and extra.
func (f *fixture) snap(extra ...string) treesnap.Tree {
	f.t.Helper()
	return treesnap.Take(f.t, f.root, append(extra, liveSkip...)...)
}

func testbinPath(t *testing.T) string { return testbin.Path(t, "hoist") }
