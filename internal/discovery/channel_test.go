package discovery

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// Channels over real git repositories with pre-release tags: stable nodes
// never see a beta, beta nodes get the newest release of either kind, and
// a beta node switched back to stable is not downgraded.
func TestChannels(t *testing.T) {
	rel := func(v, requires string) releaserepo.Release {
		return releaserepo.Release{Version: v, Requires: requires, Files: map[string]releaserepo.File{}}
	}
	betaHead := []releaserepo.Release{rel("1.0.0", ""), rel("1.1.0", ""), rel("1.2.0-beta.1", ">=1.1.0")}
	// The stable release after its beta; a beta of the next one tagged
	// later, while the default branch still holds 1.2.0.
	stableHead := append(betaHead[:3:3], rel("1.2.0", ">=1.1.0"))
	tests := []struct {
		name      string
		rels      []releaserepo.Release
		installed string
		beta      bool
		want      string // "" : nothing to install
	}{
		{"stable skips the beta on the default branch", betaHead, "1.0.0", false, "1.1.0"},
		{"stable up to date below the beta", betaHead, "1.1.0", false, ""},
		{"beta gets the beta", betaHead, "1.1.0", true, "1.2.0-beta.1"},
		{"beta's requires walk takes stable steps", betaHead, "1.0.0", true, "1.1.0"},
		{"back to stable never downgrades", betaHead, "1.2.0-beta.1", false, ""},
		{"an installed beta updates to its release", stableHead, "1.2.0-beta.1", false, "1.2.0"},
		{"beta gets the stable release after its beta", stableHead, "1.2.0-beta.1", true, "1.2.0"},
		{"nothing installed, stable", betaHead, "", false, "1.1.0"},
	}
	for _, tt := range tests {
		for name, src := range sources(t, tt.rels...) {
			if name == "template" {
				continue // lists no tags: TestChannelsWithoutTags
			}
			got, err := NewFinder(src, 0, 0).NextOn(context.Background(), v(tt.installed), tt.beta)
			if err != nil {
				t.Errorf("%s (%s): %v", tt.name, name, err)
				continue
			}
			if got == nil && tt.want != "" || got != nil && got.Version != tt.want {
				t.Errorf("%s (%s): got %+v, want %q", tt.name, name, got, tt.want)
			}
		}
	}
}

// A newer beta tagged while the default branch stays on the stable release
// reaches beta nodes only; stable nodes keep following the default branch.
func TestBetaTagAheadOfDefaultBranch(t *testing.T) {
	repo := releaserepo.New(t, releaserepo.Release{Version: "1.0.0", Files: map[string]releaserepo.File{}})
	repo.Add(t, releaserepo.Release{Version: "1.1.0-rc.1", Files: map[string]releaserepo.File{}})
	src, err := Open(repo.FileURL(), "")
	if err != nil {
		t.Fatal(err)
	}
	// Move the default branch back to 1.0.0: the beta lives on its tag only.
	repoGit(t, repo, "reset", "-q", "--hard", "v1.0.0")
	f := NewFinder(src, 0, 0)
	if u, err := f.NextOn(context.Background(), v("0.9.0"), false); err != nil || u == nil || u.Version != "1.0.0" {
		t.Errorf("stable: %+v, %v", u, err)
	}
	if u, err := f.NextOn(context.Background(), v("1.0.0"), true); err != nil || u == nil || u.Version != "1.1.0-rc.1" || u.Tag() != "v1.1.0-rc.1" {
		t.Errorf("beta: %+v, %v", u, err)
	}
	if got, err := f.TargetOn(context.Background(), v("1.0.0"), "v1.1.0-rc.1", false); err != nil || got != "v1.1.0-rc.1" {
		t.Errorf("a beta asked for by name on stable: %q, %v", got, err)
	}
}

// Without a tag list, stable nodes never guess past a beta on the default
// branch.
func TestChannelsWithoutTags(t *testing.T) {
	rels := []releaserepo.Release{{Version: "1.0.0"}, {Version: "1.1.0-beta.1"}}
	src := sources(t, rels...)["template"]
	f := NewFinder(src, 0, 0)
	if u, err := f.NextOn(context.Background(), v("1.0.0"), false); err != nil || u != nil {
		t.Errorf("stable: %+v, %v", u, err)
	}
	if u, err := f.NextOn(context.Background(), v("1.0.0"), true); err != nil || u == nil || u.Version != "1.1.0-beta.1" {
		t.Errorf("beta: %+v, %v", u, err)
	}
}

func repoGit(t *testing.T, repo *releaserepo.Repo, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = repo.Dir
	cmd.Env = append(os.Environ(), releaserepo.GitEnv()...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}
