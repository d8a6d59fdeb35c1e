package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/discovery"
	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/manager/managertest"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
	"github.com/hoist-dev/hoist/internal/testutil/testbin"
)

// userRoot lays out an app root with `hoist init` whose config names a
// release repository, with installed as the live version.
func userRoot(t *testing.T, repoURL, pubFile, installed string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "app")
	uid, gid := strconv.Itoa(os.Getuid()), strconv.Itoa(os.Getgid())
	userCmd(t, 0, "init", root, "--repo", repoURL, "--pub", pubFile, "--manager-uid", uid, "--manager-gid", gid)
	if err := os.WriteFile(filepath.Join(root, "info.json"), []byte(`{"version":"`+installed+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// userCmd runs a command in process and checks its exit code.
func userCmd(t *testing.T, want int, args ...string) (string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), args, &out, &errOut); code != want {
		t.Fatalf("hoist %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// playEngine writes the statuses of an update to v1.5.0 that ends in final.
func playEngine(t *testing.T, root string, final statusfile.Status) {
	t.Helper()
	for _, p := range []int{10, 50, 90} {
		time.Sleep(50 * time.Millisecond)
		managertest.WriteStatus(t, root, statusfile.Status{State: statusfile.Installing, Progress: p, Description: "step " + strconv.Itoa(p), UpdateTo: "v1.5.0"})
	}
	time.Sleep(50 * time.Millisecond)
	managertest.WriteStatus(t, root, final)
}

func TestCheckAndUpdate(t *testing.T) {
	repo := releaserepo.New(t, managertest.WalkReleases()...)
	root := userRoot(t, repo.ServeHTTP(t), repo.PubFile, "0.9.0")
	signal := filepath.Join(root, "events/signals/update")

	out, _ := userCmd(t, 0, "check", "--root", root)
	if want := `{"version":"1.5.0","name":"Bridge","notes":"A step on the way to 2.0.0.\nMigrates the database.","requires":">=0.9.0","intermediate":true,"latest":"2.0.0"}` + "\n"; out != want {
		t.Errorf("check: %s\nwant %s", out, want)
	}

	// Refusals change nothing.
	_, errOut := userCmd(t, exitcode.Usage, "update", "--root", root, "--to", "1.5")
	if !strings.Contains(errOut, "not a release tag") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("bad tag: %q", errOut)
	}
	_, errOut = userCmd(t, exitcode.Failure, "update", "--root", root, "--to", "v2.0.0")
	if !strings.Contains(errOut, `v2.0.0 requires ">=1.5.0"`) {
		t.Errorf("incompatible: %q", errOut)
	}
	userCmd(t, exitcode.Usage, "update", "--root", root, "extra")
	if _, err := os.Stat(signal); err == nil {
		t.Fatal("a refused update wrote the signal")
	}

	out, _ = userCmd(t, 0, "update", "--root", root)
	if out != "Updating to v1.5.0\n" {
		t.Errorf("update: %q", out)
	}
	if _, err := os.Stat(signal); err != nil {
		t.Error(err)
	}
	out, _ = userCmd(t, 0, "status", "--root", root)
	if out != `{"state":"installing","progress":0,"description":"Queued","updateTo":"v1.5.0"}`+"\n" {
		t.Errorf("status: %q", out)
	}
	_, errOut = userCmd(t, exitcode.Locked, "update", "--root", root)
	if !strings.Contains(errOut, "an update is already in progress") {
		t.Errorf("in progress: %q", errOut)
	}

	// Up to date: nothing to request.
	if err := os.WriteFile(filepath.Join(root, "info.json"), []byte(`{"version":"2.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	managertest.WriteStatus(t, root, statusfile.Default())
	if out, _ := userCmd(t, 0, "check", "--root", root); out != `{"message":"up-to-date"}`+"\n" {
		t.Errorf("check when up to date: %q", out)
	}
	_, errOut = userCmd(t, exitcode.Failure, "update", "--root", root)
	if !strings.Contains(errOut, "nothing to update to") {
		t.Errorf("up to date: %q", errOut)
	}
}

func TestStatusWatch(t *testing.T) {
	root := managertest.NewRoot(t, "")
	out, _ := userCmd(t, 0, "status", "--root", root)
	if out != `{"state":"success","progress":100,"description":"","updateTo":""}`+"\n" {
		t.Errorf("no status file: %q", out)
	}
	tests := []struct {
		final statusfile.Status
		code  int
		out   string
		err   string
	}{
		{statusfile.Status{State: statusfile.Success, Progress: 100, Description: "Updated to v1.5.0"}, 0, "success: Updated to v1.5.0\n", ""},
		{statusfile.Status{State: statusfile.Failed, Progress: 90, Description: "03-run.sh exited 2", UpdateTo: "v1.5.0"}, exitcode.Failure, "", "update failed: 03-run.sh exited 2"},
	}
	for _, tt := range tests {
		managertest.WriteStatus(t, root, statusfile.Status{State: statusfile.Installing, Description: "Queued", UpdateTo: "v1.5.0"})
		go playEngine(t, root, tt.final)
		out, errOut := userCmd(t, tt.code, "status", "--watch", "--root", root)
		if out != tt.out || !strings.Contains(errOut, tt.err) {
			t.Errorf("final %s: stdout %q stderr %q", tt.final.State, out, errOut)
		}
		for _, want := range []string{"v1.5.0 step 50", "90%", "|"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("final %s: the progress bar lacks %q: %q", tt.final.State, want, errOut)
			}
		}
	}
	// Nothing running: --watch returns at once, with the last state's code.
	userCmd(t, exitcode.Failure, "status", "--watch", "--root", root)
	managertest.WriteStatus(t, root, statusfile.Default())
	userCmd(t, 0, "status", "--watch", "--root", root)
}

// The real binary: update --wait follows the update to its end.
func TestUpdateWaitProcess(t *testing.T) {
	repo := releaserepo.New(t, managertest.WalkReleases()...)
	root := userRoot(t, repo.FileURL(), repo.PubFile, "0.9.0")
	cmd := exec.Command(testbin.Path(t, "hoist"), "update", "--wait", "--to", "v1.5.0", "--root", root)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Play the engine once the request is there.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(root, "events/signals/update")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no request; stderr %s", errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	playEngine(t, root, statusfile.Status{State: statusfile.Failed, Progress: 90, Description: "01-run.sh timed out"})
	err := cmd.Wait()
	if cmd.ProcessState.ExitCode() != exitcode.Failure || !strings.Contains(errOut.String(), "hoist update: update failed: 01-run.sh timed out") {
		t.Errorf("exit %v; stdout %q; stderr %q", err, out.String(), errOut.String())
	}
	if !strings.HasPrefix(out.String(), "Updating to v1.5.0\n") {
		t.Errorf("stdout %q", out.String())
	}
}

// hoist check answers as the manager does for a release rolling out.
func TestCheckPhased(t *testing.T) {
	repo := releaserepo.New(t, releaserepo.Release{Version: "1.0.0"}, releaserepo.Release{Version: "1.1.0", Rollout: `{"percent":30}`})
	root := userRoot(t, repo.FileURL(), repo.PubFile, "1.0.0")
	for _, inside := range []bool{true, false} {
		id := managertest.WriteNodeID(t, root, func(id string) bool { return discovery.Bucket(id, "1.1.0") < 30 == inside })
		if err := os.WriteFile(filepath.Join(root, ".hoist/node-id"), []byte(id+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		out, errOut := userCmd(t, 0, "check", "--root", root)
		if inside && (!strings.HasPrefix(out, `{"version":"1.1.0"`) || errOut != "") {
			t.Errorf("inside the rollout: %s%s", out, errOut)
		}
		if !inside && (!strings.HasPrefix(out, `{"message":"up-to-date","phased":{"version":"1.1.0","percent":30,"bucket":`) ||
			!strings.Contains(errOut, "v1.1.0 is rolling out to 30 %; this node will get it later")) {
			t.Errorf("outside the rollout: %s%s", out, errOut)
		}
	}
}
