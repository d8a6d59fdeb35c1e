package engine_test

import (
	"os"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/config"
	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/lock"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
	"github.com/hoist-dev/hoist/internal/testutil/treesnap"
)

// TestVerify changes, removes and chmods live files: verify lists each
// and exits 4; --fix restores them (downloading the release, since no
// local copy of v1.1.0's files is left after a successful update) and
// says which it could not fix when the repository is unreachable.
func TestVerify(t *testing.T) {
	f := atV100(t)
	f.must("apply", "--to", "v1.1.0")
	clean := f.snap(".hoist/config.json")
	damage := func() {
		os.WriteFile(f.path("app/config.yml"), []byte("edited by hand\n"), 0o644)
		os.Remove(f.path("app/bin/app"))
		os.Chmod(f.path("scripts/update/01-run.sh"), 0o644)
		os.Remove(f.path("app/current.yml"))
	}
	damage()
	r := f.hoist("verify")
	if r.Code != exitcode.Rejected {
		t.Fatalf("verify: %s", r)
	}
	for _, want := range []string{"app/config.yml: content changed", "app/bin/app: missing", "scripts/update/01-run.sh: mode 0644, want 0755", "app/current.yml: missing"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("verify output lacks %q:\n%s", want, r.Stdout)
		}
	}

	repo := ""
	f.editConfig(func(c *config.Config) { repo, c.Repo = c.Repo, "file:///nonexistent/repo" })
	r = f.hoist("verify", "--fix")
	if r.Code != exitcode.Rejected || !strings.Contains(r.Stdout, "could not fix: app/config.yml") || !strings.Contains(r.Stdout, "fixed: app/current.yml") {
		t.Errorf("verify --fix without the repository: %s", r)
	}

	f.editConfig(func(c *config.Config) { c.Repo = repo })
	r = f.must("verify", "--fix")
	if strings.Count(r.Stdout, "fixed: ") != 3 {
		t.Errorf("verify --fix: %s", r)
	}
	treesnap.Same(t, "after fix", f.snap(".hoist/config.json"), clean)
	f.must("verify")

	// A forged live manifest proves nothing: verify refuses it.
	os.WriteFile(f.path("hoist-release.json"), []byte(f.read("hoist-release.json")+" "), 0o644)
	if r := f.hoist("verify"); r.Code != exitcode.Rejected || !strings.Contains(r.Stderr, "signature") {
		t.Errorf("verify with a forged manifest: %s", r)
	}
}

// TestVerifyFixLocksFirst holds the update lock: verify --fix must refuse at
// once (exit 3) rather than hash a tree that an update may be changing.
func TestVerifyFixLocksFirst(t *testing.T) {
	f := newFixture(t, releaserepo.DefaultReleases()[:1]...)
	f.must("apply", "--to", "v1.0.0")
	l, err := lock.Acquire(f.path(approot.LockFile))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if r := f.hoist("verify", "--fix"); r.Code != exitcode.Locked || !strings.Contains(r.Stderr, "an update is already in progress") {
		t.Errorf("verify --fix under a held lock: %s", r)
	}
	f.must("verify") // a plain verify changes nothing and needs no lock
}
