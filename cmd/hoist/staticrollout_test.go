package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/discovery"
	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/httpcache"
	"github.com/hoist-dev/hoist/internal/nodeid"
	"github.com/hoist-dev/hoist/internal/testutil/testbin"
)

// The publisher's steps for a static repository: publish v1.1.0 with a
// 10 % rollout, then `hoist release rollout` (a real process) re-signs it;
// nodes reading the repository see each phase, `hoist check` on a node
// among them, and refused changes leave the repository as it was.
func TestReleaseRolloutStatic(t *testing.T) {
	dir := t.TempDir()
	key, repo := filepath.Join(dir, "k.key"), filepath.Join(dir, "repo")
	userCmd(t, 0, "release", "keygen", "--out", filepath.Join(dir, "k"))
	for _, info := range []string{
		`{"version":"1.0.0","app":"demo"}`,
		`{"version":"1.1.0","app":"demo","rollout":{"percent":10}}`,
	} {
		src := t.TempDir()
		if err := os.WriteFile(filepath.Join(src, "info.json"), []byte(info), 0o644); err != nil {
			t.Fatal(err)
		}
		userCmd(t, 0, "release", "publish", "--key", key, "--out", repo, src)
	}
	url := "file://" + repo
	node := userRoot(t, url, filepath.Join(dir, "k.pub"), "1.0.0")
	nodeRoot, err := os.OpenRoot(node)
	if err != nil {
		t.Fatal(err)
	}
	id := nodeid.Lookup(nodeRoot)
	nodeRoot.Close()
	if id == "" {
		t.Fatal("the node has no id")
	}
	bucket := discovery.Bucket(id, "1.1.0")

	// held returns the share, in %, of 1,000 node ids the rollout holds,
	// read as the manager reads the repository.
	held := func() float64 {
		t.Helper()
		src, err := discovery.Detect(url, "", httpcache.NewMemory(), discovery.PublishedRoot(filepath.Join(node, "statuses")))
		if err != nil {
			t.Fatal(err)
		}
		return heldShare(t, src)
	}
	if got := held(); got < 85 || got > 95 {
		t.Errorf("as published: %.1f %% of nodes held, want 85-95", got)
	}
	hoist := testbin.Path(t, "hoist")
	rollout := func(args ...string) testbin.Result {
		return testbin.Run(t, nil, hoist, append([]string{"release", "rollout"}, args...)...)
	}
	for _, tc := range []struct {
		args       []string
		heldLo, hi float64
		pct        float64 // for the node
	}{
		{[]string{"--percent", "0"}, 100, 100, 0},
		{[]string{"--start", time.Now().Add(-24 * time.Hour).Format(time.RFC3339), "--days", "2"}, 45, 55, 50},
		{[]string{"--percent", "100"}, 0, 0, 100},
		{[]string{"--halt"}, 100, 100, 0},
	} {
		r := rollout(append([]string{"--key", key, "--out", repo}, append(tc.args, "v1.1.0")...)...)
		if r.Code != 0 || !strings.Contains(r.Stdout, "v1.1.0 rolls out") {
			t.Fatalf("rollout %v: %s", tc.args, r)
		}
		if got := held(); got < tc.heldLo || got > tc.hi {
			t.Errorf("after rollout %v: %.1f %% of nodes held, want %g-%g", tc.args, got, tc.heldLo, tc.hi)
		}
		out, errOut := userCmd(t, 0, "check", "--root", node)
		if nodeHeld := strings.Contains(errOut, "this node will get it later"); nodeHeld != (bucket >= tc.pct) {
			t.Errorf("after rollout %v: hoist check on a node at %.1f %%:\n%s%s", tc.args, bucket, out, errOut)
		}
	}

	timestamp := func() string {
		data, err := os.ReadFile(filepath.Join(repo, "metadata", "timestamp.json"))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	before := timestamp()
	userCmd(t, 0, "release", "keygen", "--out", filepath.Join(dir, "other"))
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"--key", key, "--out", repo, "--percent", "10", "v9.9.9"}, exitcode.Failure},
		{[]string{"--key", filepath.Join(dir, "other.key"), "--out", repo, "--percent", "10", "v1.1.0"}, exitcode.Failure},
		{[]string{"--key", key, "--out", repo, "--percent", "101", "v1.1.0"}, exitcode.Usage},
		{[]string{"--key", key, "--out", repo, "--start", "now", "--days", "-1", "v1.1.0"}, exitcode.Usage},
		{[]string{"--key", key, "--out", repo, "--percent", "10", "latest"}, exitcode.Usage},
		{[]string{"--out", repo, "--percent", "10", "v1.1.0"}, exitcode.Usage},
		{[]string{"--key", key, "--percent", "10", repo}, exitcode.Usage},
	} {
		if r := rollout(tc.args...); r.Code != tc.code {
			t.Errorf("rollout %v: %s; want exit %d", tc.args, r, tc.code)
		}
	}
	if timestamp() != before {
		t.Error("a refused rollout re-signed the repository")
	}
}
