package engine_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/treesnap"
)

// TestCrashBeforeTrashEmptied kills `hoist rollback` once the status says
// success but before the trash (where the used backup and the undo area
// went) is empty, then recovers: the root is exactly v1.0.0, the status
// says success, and no trash is left.
//
// There is no journal step between the two, so the test watches the
// status and kills at once. A big leftover trash (as an earlier crash
// could leave) makes the window wide enough to hit; a kill that comes too
// late is tried again with a bigger one.
func TestCrashBeforeTrashEmptied(t *testing.T) {
	base, v100, _ := updated(t)
	for _, files := range []int{5000, 20000, 80000} {
		f := base.copyOf(t)
		plantTrash(t, f.path(".hoist/trash/leftover"), files)
		if !killAtStatus(t, f, "Rolled back to v1.0.0", "rollback") {
			t.Logf("with %d files in the trash, the rollback emptied it before the kill", files)
			continue
		}
		if _, err := os.Lstat(f.path(".hoist/trash")); err != nil {
			t.Fatalf("the kill came after the trash was emptied: %v", err)
		}
		rec := f.must("recover")
		if !strings.Contains(rec.Stdout, "finished by recover") {
			t.Errorf("recover: %s", rec)
		}
		treesnap.Same(t, "after recover", f.snap("data", ".app-*"), v100)
		if st := f.status(); st.State != statusfile.Success || !strings.Contains(st.Description, "v1.0.0") {
			t.Errorf("status %+v", st)
		}
		if again := f.must("recover"); strings.TrimSpace(again.Stdout) != "nothing to recover" {
			t.Errorf("second recover: %s", again)
		}
		return
	}
	t.Fatal("never killed the rollback between its success status and the end of its cleanup")
}

// plantTrash fills dir with n empty files in 100 directories.
func plantTrash(t *testing.T, dir string, n int) {
	t.Helper()
	for i := range n {
		sub := filepath.Join(dir, fmt.Sprintf("d%02d", i%100))
		if i < 100 {
			if err := os.MkdirAll(sub, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%06d", i)), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// killAtStatus runs hoist with args on f's root and kills it with SIGKILL
// as soon as the status file says success with description desc. It
// reports whether the kill found the process still running.
func killAtStatus(t *testing.T, f *fixture, desc string, args ...string) bool {
	t.Helper()
	cmd := exec.Command(testbinPath(t), append(args, "--root", f.root)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for st := f.status(); st.State != statusfile.Success || st.Description != desc; st = f.status() {
		select {
		case err := <-done:
			t.Fatalf("hoist %v ended without a success status: %v", args, err)
		case <-time.After(200 * time.Microsecond):
		}
	}
	cmd.Process.Kill()
	<-done
	return cmd.ProcessState.ExitCode() == -1
}
