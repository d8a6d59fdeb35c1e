package engine_test

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hoist-dev/hoist/internal/testutil/treesnap"

	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// tmpfs mounts a tmpfs with opts (e.g. "size=12m") for the test, or skips
// when mounting is not permitted (tests need root, or a container with
// CAP_SYS_ADMIN).
func tmpfs(t *testing.T, opts string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mnt")
	os.Mkdir(dir, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs to fill up (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

func remount(t *testing.T, dir, opts string) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,"+opts, dir).CombinedOutput(); err != nil {
		t.Fatalf("remount %s: %v %s", opts, err, out)
	}
}

func random(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return string(b)
}

// TestDiskFull runs updates on an app root on a small tmpfs: one the
// preflight refuses, one whose download fills the disk, and one that runs
// out of inodes at each point of its install. Each fails cleanly with the
// root untouched; none leaves staging or temp files.
func TestDiskFull(t *testing.T) {
	t.Run("preflight", func(t *testing.T) {
		rels := releaserepo.DefaultReleases()[:2]
		rels[0].Files["app/big.bin"] = releaserepo.File{Content: random(3 << 20)}
		f := newFixtureAt(t, filepath.Join(tmpfs(t, "size=12m"), "app"), releaserepo.New(t, rels...))
		f.must("apply", "--to", "v1.0.0")
		before := f.snap()
		r := f.hoist("apply", "--to", "v1.1.0")
		if r.Code != exitcode.Failure || !strings.Contains(r.Stderr, "not enough free disk space") {
			t.Fatalf("apply: %s", r)
		}
		treesnap.Same(t, "root", f.snap(), before)
	})

	t.Run("download", func(t *testing.T) {
		rels := releaserepo.DefaultReleases()[:2]
		rels[1].Files["app/big.bin"] = releaserepo.File{Content: random(20 << 20)}
		f := newFixtureAt(t, filepath.Join(tmpfs(t, "size=16m"), "app"), releaserepo.New(t, rels...))
		f.must("apply", "--to", "v1.0.0")
		before := f.snap()
		r := f.hoist("apply", "--to", "v1.1.0")
		if r.Code != exitcode.Failure || !strings.Contains(r.Stderr, "no space left on device") {
			t.Fatalf("apply: %s", r)
		}
		treesnap.Same(t, "root", f.snap(), before)
		if st := f.status(); !strings.Contains(st.Description, "no space left") || !strings.Contains(st.Description, "v1.0.0 is still installed") {
			t.Errorf("status %+v", st)
		}
	})

	t.Run("inodes during install", func(t *testing.T) {
		rels := releaserepo.DefaultReleases()[:2]
		const links = 200
		for i := range links {
			rels[1].Files[fmt.Sprintf("links/l%03d", i)] = releaserepo.File{Link: "../app/config.yml"}
		}
		mnt := tmpfs(t, "size=64m")
		f := newFixtureAt(t, filepath.Join(mnt, "app"), releaserepo.New(t, rels...))
		f.must("apply", "--to", "v1.0.0")
		old := f.snap()
		var st syscall.Statfs_t
		syscall.Statfs(mnt, &st)
		used := int(st.Files - st.Ffree)
		// The staging clone takes about links+30 inodes, the install
		// links+1 more (hard links take none): step through the range
		// where the install runs out.
		failedInInstall := false
		for extra := links; extra <= 2*links+60; extra += 20 {
			remount(t, mnt, fmt.Sprintf("nr_inodes=%d", used+extra))
			r := f.hoist("apply", "--to", "v1.1.0")
			if r.Code == 0 {
				t.Logf("%d spare inodes: installed", extra)
				break
			}
			if r.Code != exitcode.Failure {
				t.Fatalf("%d spare inodes: %s", extra, r)
			}
			failedInInstall = failedInInstall || strings.Contains(r.Stderr, "install v1.1.0:")
			t.Logf("%d spare inodes: %s", extra, firstLine(r.Stderr[strings.LastIndex(r.Stderr, "hoist apply:"):]))
			treesnap.Same(t, fmt.Sprintf("root after failing with %d spare inodes", extra), f.snap(".app-*"), old)
		}
		if !failedInInstall {
			t.Error("no run ran out of inodes during the install")
		}
		f.must("verify")
	})
}
