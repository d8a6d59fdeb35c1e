package releaserepo

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/release"
	"github.com/hoist-dev/hoist/internal/testutil/testbin"
)

// cloneTag checks tag out of url with the git CLI and verifies it with the
// repo's key.
func cloneTag(t *testing.T, r *Repo, url, tag string) (string, error) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	run(t, filepath.Dir(dir), "git", "-c", "advice.detachedHead=false", "clone", "-q", "--depth", "1", "--branch", tag, url, dir)
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	_, err = release.VerifyDir(context.Background(), root, []string{r.PubKey}, tag)
	return dir, err
}

func TestDefaultReleases(t *testing.T) {
	t.Parallel()
	r := New(t, DefaultReleases()...)
	tags := strings.Fields(r.git(t, "tag", "-l"))
	if strings.Join(tags, " ") != "v1.0.0 v1.1.0 v2.0.0" {
		t.Fatalf("tags = %v", tags)
	}
	if kind := strings.TrimSpace(r.git(t, "cat-file", "-t", "v1.0.0")); kind != "commit" {
		t.Errorf("v1.0.0 is a %s, want a lightweight tag", kind)
	}
	if kind := strings.TrimSpace(r.git(t, "cat-file", "-t", "v2.0.0")); kind != "tag" {
		t.Errorf("v2.0.0 is a %s, want an annotated tag", kind)
	}
	if head := strings.TrimSpace(r.git(t, "describe", "--tags", "main")); head != "v2.0.0" {
		t.Errorf("main is at %s, want v2.0.0", head)
	}
	url := r.ServeHTTP(t)
	for _, tag := range tags {
		dir, err := cloneTag(t, r, url, tag)
		if err != nil {
			t.Fatalf("%s over HTTP does not verify: %v", tag, err)
		}
		_, legacy := os.Lstat(filepath.Join(dir, "app/legacy.txt"))
		if (tag == "v1.0.0") != (legacy == nil) {
			t.Errorf("%s: app/legacy.txt present = %v", tag, legacy == nil)
		}
		if fi, err := os.Lstat(filepath.Join(dir, "app/bin/app")); err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: app/bin/app = %v, %v", tag, fi, err)
		}
		if target, err := os.Readlink(filepath.Join(dir, "app/current.yml")); err != nil || target != "config.yml" {
			t.Errorf("%s: app/current.yml -> %q, %v", tag, target, err)
		}
	}
	if !strings.Contains(readFile(t, filepath.Join(r.Dir, "info.json")), `"requires":">=1.1.0"`) {
		t.Error("v2.0.0 info.json lacks requires")
	}
}

func TestTamper(t *testing.T) {
	t.Parallel()
	r := New(t, DefaultReleases()[:2]...)
	r.Tamper(t, "1.1.0", func(dir string) {
		if err := os.WriteFile(filepath.Join(dir, "app/config.yml"), []byte("evil: true\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := cloneTag(t, r, r.FileURL(), "v1.1.0"); !errors.Is(err, exitcode.ErrRejected) {
		t.Fatalf("tampered release: err = %v, want rejected", err)
	}
	if kind := strings.TrimSpace(r.git(t, "cat-file", "-t", "v1.1.0")); kind != "tag" {
		t.Errorf("tampered tag is a %s, want still annotated", kind)
	}
	if _, err := cloneTag(t, r, r.FileURL(), "v1.0.0"); err != nil {
		t.Fatalf("untouched release: %v", err)
	}
	if got := readFile(t, filepath.Join(r.Dir, "app/config.yml")); got != "version: 1.1.0\n" {
		t.Errorf("main's work tree changed: %q", got)
	}
}

func TestScriptsLog(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	root := t.TempDir()
	for n := range 2 {
		script := filepath.Join(t.TempDir(), "s.sh")
		testbin.WriteExecutable(t, script, []byte(LoggingScript("1.1.0", n).Content))
		cmd := exec.Command(script, "v1.1.0", root)
		cmd.Env = append(os.Environ(), "HOIST_ROOT="+root, "HOIST_RELEASE=v1.1.0", "HOIST_FROM=1.0.0")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "::progress 50 ") {
			t.Fatalf("script: %v %q", err, out)
		}
	}
	want := []string{
		"v1.1.0/00 release=v1.1.0 from=1.0.0 args=v1.1.0 " + root,
		"v1.1.0/01 release=v1.1.0 from=1.0.0 args=v1.1.0 " + root,
	}
	if got := ScriptRuns(t, root); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("log = %q, want %q", got, want)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
