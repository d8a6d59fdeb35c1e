package engine_test

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/config"
	"github.com/hoist-dev/hoist/internal/engine"
	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
	"github.com/hoist-dev/hoist/internal/testutil/treesnap"
)

func (f *fixture) config() config.Config {
	f.t.Helper()
	var c config.Config
	if err := json.Unmarshal([]byte(f.read(".hoist/config.json")), &c); err != nil {
		f.t.Fatal(err)
	}
	return c
}

// rejects requests tag and checks that apply refuses it with exit 4, the
// root unchanged and a status description holding reason.
func (f *fixture) rejects(tag, reason string) {
	f.t.Helper()
	before := f.snap()
	f.request(tag)
	r := f.hoist("apply")
	if r.Code != exitcode.Rejected {
		f.t.Fatalf("apply %s: %s", tag, r)
	}
	treesnap.Same(f.t, "live root", f.snap(), before)
	if st := f.status(); st.State != statusfile.Failed || !strings.Contains(st.Description, reason) {
		f.t.Errorf("status %+v, want a failure naming %q", st, reason)
	}
}

// release returns DefaultReleases()[1] as version, of app.
func release(version, app string) releaserepo.Release {
	rel := releaserepo.DefaultReleases()[1]
	rel.Version, rel.App = version, app
	return rel
}

// TestAppPinned installs a release signed with the node's key but of
// another app: the first release installed pins the app, hoist init --app
// pins it before any, and a release of another app is rejected.
func TestAppPinned(t *testing.T) {
	rels := []releaserepo.Release{releaserepo.DefaultReleases()[0], release("1.1.0", "shop")}
	t.Run("by the first install", func(t *testing.T) {
		f := newFixture(t, rels...)
		if c := f.config(); c.App != "" {
			t.Fatalf("app pinned before any install: %q", c.App)
		}
		f.must("apply", "--to", "v1.0.0")
		if c := f.config(); c.App != "demo" {
			t.Fatalf("app after the first install = %q, want demo", c.App)
		}
		f.rejects("v1.1.0", `v1.1.0 rejected: it is a release of app "shop", but this node runs app "demo"`)
	})
	t.Run("by init", func(t *testing.T) {
		repo := releaserepo.New(t, rels...)
		f := &fixture{t: t, repo: repo, root: filepath.Join(t.TempDir(), "app")}
		if r := f.exec(nil, "init", f.root, "--repo", repo.FileURL(), "--pub", repo.PubFile, "--app", "shop"); r.Code != 0 {
			t.Fatalf("init: %s", r)
		}
		f.rejects("v1.0.0", `it is a release of app "demo", but this node runs app "shop"`)
		f.must("apply", "--to", "v1.1.0")
	})
}

// TestKeyRotation installs a release signed by keys A and B whose
// hoist-keys.json adds B and revokes A: from then on a release signed by
// B only installs and one signed by A only is rejected. A failed install
// of such a release changes no key.
func TestKeyRotation(t *testing.T) {
	repo := releaserepo.New(t)
	keyA := repo.KeyFile
	keyB, pubB := repo.NewKey(t, "b")
	rotate := release("1.1.0", "demo")
	rotate.Keys = []string{keyA, keyB}
	rotate.Files["hoist-keys.json"] = releaserepo.File{Content: `{"add":["` + pubB + `"],"revoke":["` + repo.PubKey + `"]}`}
	failing := failingAt("1.1.1", 2)
	failing.Keys, failing.Files["hoist-keys.json"] = rotate.Keys, rotate.Files["hoist-keys.json"]
	byA, byB := release("1.3.0", "demo"), release("1.2.0", "demo")
	byA.Keys, byB.Keys = []string{keyA}, []string{keyB}
	for _, rel := range []releaserepo.Release{releaserepo.DefaultReleases()[0], failing, rotate, byB, byA} {
		repo.Add(t, rel)
	}

	base := newFixtureAt(t, filepath.Join(t.TempDir(), "app"), repo)
	base.must("apply", "--to", "v1.0.0")
	t.Run("failed install adopts nothing", func(t *testing.T) {
		f := base.copyOf(t)
		f.request("v1.1.1")
		if r := f.hoist("apply"); r.Code != exitcode.Failure || !strings.Contains(r.Stderr, "02-run.sh exited with status 3") {
			t.Fatalf("apply v1.1.1: %s", r)
		}
		if c := f.config(); !slices.Equal(c.Pubkeys, []string{repo.PubKey}) {
			t.Errorf("pubkeys after a failed install = %q", c.Pubkeys)
		}
		if r := f.hoist("apply", "--to", "v1.2.0"); r.Code != exitcode.Rejected || !strings.Contains(r.Stderr, "which is not a trusted key") {
			t.Errorf("apply v1.2.0, signed by B only: %s", r)
		}
	})
	t.Run("crash after the commit", func(t *testing.T) {
		f := base.copyOf(t)
		if r := f.exec([]string{crashEnv + string(engine.StepCommit)}, "apply", "--to", "v1.1.0", "--root", f.root); r.Code != -1 {
			t.Fatalf("apply was not killed: %s", r)
		}
		f.must("recover")
		if c := f.config(); !slices.Equal(c.Pubkeys, []string{pubB}) {
			t.Fatalf("pubkeys after recover = %q, want B's", c.Pubkeys)
		}
		f.must("apply", "--to", "v1.2.0")
	})
	t.Run("installed rotation", func(t *testing.T) {
		f := base.copyOf(t)
		f.rejects("v1.2.0", "which is not a trusted key")
		f.must("apply", "--to", "v1.1.0")
		if c := f.config(); !slices.Equal(c.Pubkeys, []string{pubB}) || c.App != "demo" {
			t.Fatalf("config after the rotation: app %q, pubkeys %q", c.App, c.Pubkeys)
		}
		f.must("verify") // the live release is signed by B too
		f.rejects("v1.3.0", "which is not a trusted key")
		f.must("apply", "--to", "v1.2.0")
		f.must("verify")
	})
}

// TestKeyChangeRevokingEverything rejects, before installing it, a release
// whose key change would leave the node no trusted key.
func TestKeyChangeRevokingEverything(t *testing.T) {
	rel := release("1.1.0", "demo")
	f := newFixture(t, releaserepo.DefaultReleases()[0])
	rel.Files["hoist-keys.json"] = releaserepo.File{Content: `{"add":[],"revoke":["` + f.repo.PubKey + `"]}`}
	f.repo.Add(t, rel)
	f.must("apply", "--to", "v1.0.0")
	f.rejects("v1.1.0", "hoist-keys.json revokes every trusted key")
}
