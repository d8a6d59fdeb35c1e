package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-version"

	"github.com/hoist-dev/hoist/internal/discovery"
	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// The maintainer's steps: hoist release rollout in the work tree, commit,
// and nodes reading the repository see the phase.
func TestReleaseRollout(t *testing.T) {
	repo := releaserepo.New(t, releaserepo.Release{Version: "1.0.0"}, releaserepo.Release{Version: "1.1.0"})
	held := func() float64 {
		t.Helper()
		src, err := discovery.Open(repo.FileURL(), "")
		if err != nil {
			t.Fatal(err)
		}
		return heldShare(t, src)
	}
	commit := func() {
		t.Helper()
		cmd := exec.Command("git", "-c", "user.name=t", "-c", "user.email=t@hoist.invalid", "-c", "commit.gpgsign=false", "commit", "-qam", "rollout")
		cmd.Dir, cmd.Env = repo.Dir, releaserepo.GitEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git commit: %v\n%s", err, out)
		}
	}
	for _, tc := range []struct {
		args       []string
		heldLo, hi float64
	}{
		{[]string{"--percent", "10"}, 85, 95},
		{[]string{"--halt"}, 100, 100},
		{[]string{"--start", time.Now().Add(-24 * time.Hour).Format(time.RFC3339), "--days", "2"}, 45, 55},
		{[]string{"--percent", "100"}, 0, 0},
	} {
		code, out, errOut := runHoist(t, append(append([]string{"release", "rollout"}, tc.args...), repo.Dir)...)
		if code != 0 || !strings.Contains(out, "v1.1.0 rolls out") {
			t.Fatalf("rollout %v: exit %d\n%s%s", tc.args, code, out, errOut)
		}
		commit()
		if got := held(); got < tc.heldLo || got > tc.hi {
			t.Errorf("after rollout %v: %.1f %% of nodes held, want %g-%g", tc.args, got, tc.heldLo, tc.hi)
		}
	}
	data, err := os.ReadFile(filepath.Join(repo.Dir, "info.json"))
	if err != nil || !strings.Contains(string(data), `"version": "1.1.0"`) || strings.Count(string(data), "rollout") != 1 {
		t.Errorf("info.json after four rollouts:\n%s", data)
	}
}

func TestReleaseRolloutUsage(t *testing.T) {
	dir := releaseTree(t, "1.3.0")
	for _, args := range [][]string{
		{},
		{"--percent", "10", "--halt"},
		{"--percent", "10", "--days", "3"},
		{"--start", "now"},
		{"--start", "yesterday", "--days", "3"},
		{"--days", "3"},
		{"--percent", "101"},
	} {
		code, _, errOut := runHoist(t, append(append([]string{"release", "rollout"}, args...), dir)...)
		if code != exitcode.Usage && code != exitcode.Failure {
			t.Errorf("rollout %v: exit %d, want a refusal\n%s", args, code, errOut)
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, "info.json"))
	if strings.Contains(string(data), "rollout") {
		t.Errorf("a refused rollout was written:\n%s", data)
	}
}

// heldShare returns the share, in %, of 1,000 node ids that the rollout of
// the update from 1.0.0 to 1.1.0 src offers holds back.
func heldShare(t *testing.T, src discovery.Source) float64 {
	t.Helper()
	u, err := discovery.NewFinder(src, 0, 0).Next(context.Background(), version.Must(version.NewVersion("1.0.0")))
	if err != nil || u == nil || u.Version != "1.1.0" {
		t.Fatalf("Next = %+v, %v", u, err)
	}
	n := 0
	for i := range 1000 {
		if discovery.Hold(u, fmt.Sprintf("%032x", i), time.Now()) != nil {
			n++
		}
	}
	return float64(n) / 10
}
