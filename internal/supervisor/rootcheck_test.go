package supervisor_test

// Tests of the checks on ROOT and its ancestors, with the real
// hoist-supervisor binary: root runs triggers by path, so no directory on
// that path may be swappable by anyone else.

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hoist-dev/hoist/internal/testutil/supervisorproc"
)

// refused signals update and waits for its trigger to be refused with
// reason, then fix()es the cause and checks the next signal runs it, with no
// restart.
func refused(r *appRoot, d *supervisorproc.Process, reason string, fix func() error) {
	r.t.Helper()
	r.sh("echo > update")
	d.WaitLog("refusing trigger triggers/update", "trigger", "update", "error", reason)
	if err := fix(); err != nil {
		r.t.Fatal(err)
	}
	r.sh("echo > update")
	r.waitRuns("update", 1) // and none for the refused signal
}

func TestUnsafeRootIsRefused(t *testing.T) {
	t.Parallel()
	r := newAppRoot(t)
	r.recorder("update")
	d := r.supervise()
	if err := os.Chmod(r.dir, 0o775); err != nil {
		t.Fatal(err)
	}
	refused(r, d, "directory "+r.dir+": unsafe trigger: writable by group or others (mode 0775)",
		func() error { return os.Chmod(r.dir, 0o755) })
}

// An unsafe ROOT is reported at start, before any signal.
func TestUnsafeRootIsReportedAtStart(t *testing.T) {
	t.Parallel()
	r := newAppRoot(t)
	if err := os.Chmod(r.dir, 0o775); err != nil {
		t.Fatal(err)
	}
	d := r.supervise()
	d.WaitLog("no trigger will run until this is fixed", "error", "directory "+r.dir+": unsafe trigger: writable by group or others (mode 0775)")
}

func TestForeignRootIsRefused(t *testing.T) {
	t.Parallel()
	r := newAppRoot(t)
	r.recorder("update")
	d := r.supervise()
	if err := os.Chown(r.dir, 1234, 1234); err != nil {
		t.Fatal(err)
	}
	refused(r, d, "directory "+r.dir+": unsafe trigger: owned by uid 1234, not root",
		func() error { return os.Chown(r.dir, 0, 0) })
}

// An ancestor anyone can write to is refused, unless it is sticky like
// /tmp: then only the owner of ROOT's own entry could rename it.
func TestUnsafeAncestorIsRefused(t *testing.T) {
	t.Parallel()
	r := newAppRoot(t)
	r.recorder("update")
	d := r.supervise()
	anc := filepath.Dir(r.dir) // the test's own temporary directory
	if err := os.Chmod(anc, 0o777); err != nil {
		t.Fatal(err)
	}
	refused(r, d, "directory "+anc+": unsafe trigger: writable by group or others (mode 0777)",
		func() error { return os.Chmod(anc, 0o777|os.ModeSticky) })
}

// A ROOT given through a symlink is resolved at start: triggers run from
// (and with HOIST_ROOT set to) the real directory, also once the symlink
// points elsewhere.
func TestRootThroughSymlink(t *testing.T) {
	t.Parallel()
	r := newAppRoot(t)
	r.recorder("update")
	other := newAppRoot(t)
	other.recorder("update")
	link := filepath.Join(t.TempDir(), "root")
	if err := os.Symlink(r.dir, link); err != nil {
		t.Fatal(err)
	}
	supervisorproc.Start(t, link, supervisorproc.Options{})
	r.sh("echo > update")
	r.waitRuns("update", 1)

	swapped := link + ".new"
	if err := os.Symlink(other.dir, swapped); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(swapped, link); err != nil {
		t.Fatal(err)
	}
	r.sh("echo > update")
	r.waitRuns("update", 2)
	if runs := other.runs("update"); len(runs) != 0 {
		t.Errorf("the trigger behind the swapped symlink ran: %q", runs)
	}
}
