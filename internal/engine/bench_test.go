package engine_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/config"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// TestMeasureApply (HOIST_BENCH=1) times `hoist apply` of a 2,000-file,
// 50 MB release against what a naive updater does with the same tree:
// git clone --depth 1, sha256sum of every file, cp -a into place.
func TestMeasureApply(t *testing.T) {
	if os.Getenv("HOIST_BENCH") == "" {
		t.Skip("set HOIST_BENCH=1 to measure")
	}
	const files, size = 2000, 50 << 20
	rels := releaserepo.DefaultReleases()[:2]
	rng := rand.New(rand.NewPCG(1, 2))
	for _, rel := range rels {
		for i := range files {
			b := make([]byte, size/files)
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
			rel.Files[fmt.Sprintf("app/d%02d/f%04d.bin", i%40, i)] = releaserepo.File{Content: string(b)}
		}
	}
	repo := releaserepo.New(t, rels...)
	for _, transport := range []string{"file", "http"} {
		url := repo.FileURL()
		if transport == "http" {
			url = repo.ServeHTTP(t)
		}
		f := newFixtureAt(t, filepath.Join(t.TempDir(), "app"), repo)
		f.editConfig(func(c *config.Config) { c.Repo = url })
		first := timeIt(t, func() { f.must("apply", "--to", "v1.0.0") })
		update := timeIt(t, func() { f.must("apply", "--to", "v1.1.0") })
		rollback := timeIt(t, func() { f.must("rollback") })

		dir := t.TempDir()
		clone := timeIt(t, func() {
			sh(t, "git", "clone", "-q", "--depth", "1", "--branch", "v1.1.0", url, filepath.Join(dir, "clone"))
		})
		sum := timeIt(t, func() {
			sh(t, "sh", "-c", "cd "+filepath.Join(dir, "clone")+" && find . -path ./.git -prune -o -type f -print0 | xargs -0 sha256sum >/dev/null")
		})
		copyTree := timeIt(t, func() {
			os.Mkdir(filepath.Join(dir, "target"), 0o755)
			sh(t, "cp", "-a", filepath.Join(dir, "clone")+"/.", filepath.Join(dir, "target"))
		})
		t.Logf("%s: hoist apply first install %v, update (all %d files changed) %v, rollback %v; git clone --depth 1 %v + sha256sum %v + cp -a %v = %v",
			transport, first, files, update, rollback, clone, sum, copyTree, clone+sum+copyTree)
	}
}

func timeIt(t *testing.T, fn func()) time.Duration {
	t.Helper()
	start := time.Now()
	fn()
	return time.Since(start).Round(time.Millisecond)
}

func sh(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v %s", name, args, err, out)
	}
}
