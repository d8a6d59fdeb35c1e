package gitserver

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestStartCountsRequests: a clone through Start is served, each request
// is recorded with its connection's bytes once the connection closes, and
// the body bytes are counted.
func TestStartCountsRequests(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	project := t.TempDir()
	repo := filepath.Join(project, "app")
	git(t, "", "init", "-q", "-b", "main", repo)
	git(t, repo, "-c", "user.name=t", "-c", "user.email=t@hoist.invalid", "commit", "-q", "--allow-empty", "-m", "one")
	s, err := Start(project)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	git(t, "", "clone", "-q", s.URL+"/app", filepath.Join(t.TempDir(), "clone"))
	if s.BodyBytes() == 0 {
		t.Error("no body bytes counted for a clone")
	}
	var reqs []Request
	for deadline := time.Now().Add(5 * time.Second); len(reqs) < 2 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		reqs = s.Requests() // a request is recorded when its connection closes
	}
	if len(reqs) < 2 {
		t.Fatalf("requests %+v, want the ref advertisement and the pack", reqs)
	}
	if r := reqs[0]; r.Path != "/app/info/refs" || r.Status != 200 || r.Bytes == 0 {
		t.Errorf("first request %+v, want a 200 for /app/info/refs with bytes", r)
	}
	var conns int64
	for _, r := range reqs {
		conns += r.Bytes
	}
	if conns <= s.BodyBytes() {
		t.Errorf("connections carried %d bytes, no more than the %d of the bodies alone", conns, s.BodyBytes())
	}
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env = dir, Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v: %s", args, err, out)
	}
}
