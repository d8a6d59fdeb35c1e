package e2e

import (
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// releaseRepo is a git repository of signed releases, cut with
// deploy/publish-release.sh as a maintainer (and `make demo`) would, and
// served over git's smart HTTP protocol by git-http-backend, so the manager
// container reads it over the network like a real remote.
type releaseRepo struct {
	dir      string // the repository's work tree
	key, pub string // minisign key pair made by `hoist release keygen`
	url      string // http URL of the repository
	hoist    string // the hoist binary
}

func newReleaseRepo(t *testing.T, hoist string) *releaseRepo {
	t.Helper()
	lookPathOrSkip(t, "git")
	base := t.TempDir()
	r := &releaseRepo{
		dir:   filepath.Join(base, "releases"),
		key:   filepath.Join(base, "keys", "release.key"),
		pub:   filepath.Join(base, "keys", "release.pub"),
		hoist: hoist,
	}
	if err := os.Mkdir(filepath.Join(base, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	run(t, nil, hoist, "release", "keygen", "--out", filepath.Join(base, "keys", "release"))
	srv := httptest.NewServer(&cgi.Handler{
		Path: gitHTTPBackend(t),
		Env:  []string{"GIT_PROJECT_ROOT=" + base, "GIT_HTTP_EXPORT_ALL=1"},
	})
	t.Cleanup(srv.Close)
	r.url = srv.URL + "/releases/.git"
	return r
}

// publish cuts release tag from the union of the source directories.
func (r *releaseRepo) publish(t *testing.T, tag string, srcs ...string) {
	t.Helper()
	args := append([]string{"--key", r.key, "--repo", r.dir, tag}, srcs...)
	script := filepath.Join(repoRoot(t), "deploy", "publish-release.sh")
	run(t, []string{"HOIST=" + r.hoist}, script, args...)
}

func gitHTTPBackend(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git --exec-path: %v", err)
	}
	p := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("git-http-backend missing: %v", err)
	}
	return p
}

// run runs a program to completion with extra environment and fails the
// test with its output if it fails. It returns the output.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}
