package engine_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/testutil/outside"
	"github.com/hoist-dev/hoist/internal/testutil/treesnap"

	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// TestHostileUpdateTo: updateTo values that are not tags are refused with
// exit 4 before they name anything; nothing outside the root changes.
func TestHostileUpdateTo(t *testing.T) {
	f := atV100(t)
	parent := filepath.Dir(f.root)
	before := treesnap.Take(t, parent, "app")
	for _, bad := range []string{"v1;rm -rf /", "../x", "v1.1.0/../../x", "$(touch /tmp/pwned)", "v1.1.0 ", "1.1.0"} {
		f.request(bad)
		r := f.hoist("apply")
		if r.Code != exitcode.Rejected {
			t.Errorf("updateTo %q: %s", bad, r)
		}
		if st := f.status(); st.State != statusfile.Failed || !strings.Contains(st.Description, "not a release tag") {
			t.Errorf("updateTo %q: status %+v", bad, st)
		}
	}
	treesnap.Same(t, "the root's parent", treesnap.Take(t, parent, "app"), before)
	if r := f.hoist("apply", "--to", "../x"); r.Code != exitcode.Usage {
		t.Errorf("--to ../x: %s", r)
	}
}

// TestStatusFileSymlinks plants symlinks and a hard link in statuses/, the
// manager-writable directory, pointing outside the root: root never reads
// or writes through them, and the status ends up a regular file.
func TestStatusFileSymlinks(t *testing.T) {
	f := atV100(t)
	status := f.path("statuses/" + statusfile.Name)
	// plant makes a link statuses/name to the file target outside.
	plant := func(name, target string, hard bool) {
		p := f.path("statuses/" + name)
		os.Remove(p)
		link := os.Symlink
		if hard {
			link = os.Link
		}
		if err := link(target, p); err != nil {
			t.Skipf("cannot plant a link: %v", err) // a hard link needs the same filesystem
		}
	}

	// apply reads updateTo from the status file: a symlink is refused.
	o := outside.New(t)
	plant(statusfile.Name, o.Path(outside.Secret), false)
	o.Seal(t)
	if r := f.hoist("apply"); r.Code != exitcode.Rejected || !strings.Contains(r.Stderr, "not a regular file") {
		t.Errorf("apply with a symlinked status: %s", r)
	}
	o.Check(t)
	if fi, err := os.Lstat(status); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("status file not replaced by a regular file: %v", fi)
	}

	// An update and a failure write status, info and report copies: all
	// replace the planted names.
	links := map[string]*outside.Dir{statusfile.Name: outside.New(t), "info.json": outside.New(t), "last-failure.log": outside.New(t)}
	for name, o := range links {
		plant(name, o.Path(outside.Secret), false)
		o.Seal(t)
	}
	f.must("apply", "--to", "v1.1.0")
	f.hoist("apply", "--to", "v1.1.0") // refused: already installed
	for name, o := range links {
		o.Check(t)
		if fi, err := os.Lstat(f.path("statuses/" + name)); err == nil && !fi.Mode().IsRegular() {
			t.Errorf("statuses/%s is still a %v", name, fi.Mode().Type())
		}
	}

	// A hard link to a file outside is refused as well.
	hard := outside.New(t)
	plant(statusfile.Name, hard.Path(outside.Secret), true)
	hard.Seal(t)
	if r := f.hoist("apply"); r.Code != exitcode.Rejected || !strings.Contains(r.Stderr, "hard links") {
		t.Errorf("apply with a hard-linked status: %s", r)
	}
	hard.Check(t)
}

// TestLock: a second apply while one runs exits 3; the lock of a killed
// apply is taken over and its half-done update undone before the next.
func TestLock(t *testing.T) {
	rels := releaserepo.DefaultReleases()[:2]
	hold := releaserepo.LoggingScript("1.1.0", 2)
	hold.Content = strings.Replace(hold.Content, "set -e\n", "set -e\ntouch \"$HOIST_ROOT/data/holding\"\nwhile [ -e \"$HOIST_ROOT/data/hold\" ]; do sleep 0.05; done\n", 1)
	rels[1].Files[scriptPath(2)] = hold
	f := newFixture(t, rels...)
	f.must("apply", "--to", "v1.0.0")
	os.WriteFile(f.path("data/hold"), nil, 0o644)

	first := exec.Command(testbinPath(t), "apply", "--to", "v1.1.0", "--root", f.root)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Process.Kill()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(f.path("data/holding")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("02-run.sh never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, cmd := range [][]string{{"apply", "--to", "v1.1.0"}, {"recover"}, {"rollback"}} {
		if r := f.hoist(cmd...); r.Code != exitcode.Locked || !strings.Contains(r.Stderr, "an update is already in progress") {
			t.Errorf("%v while an apply runs: %s", cmd, r)
		}
	}
	if st := f.status(); st.State != statusfile.Installing {
		t.Errorf("status changed by the refused commands: %+v", st)
	}

	first.Process.Kill() // SIGKILL: the lock is left behind
	first.Wait()
	os.Remove(f.path("data/hold"))
	r := f.must("apply", "--to", "v1.1.0")
	if !strings.Contains(r.Stderr, "took over the lock") || !strings.Contains(r.Stderr, "interrupted") {
		t.Errorf("second apply did not take over and recover: %s", r)
	}
	if st := f.status(); st.State != statusfile.Success {
		t.Errorf("status %+v", st)
	}
	f.must("verify")
}
