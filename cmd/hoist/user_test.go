package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/config"
	"github.com/hoist-dev/hoist/internal/discovery"
	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/manager/managertest"
	"github.com/hoist-dev/hoist/internal/request"
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
		if !strings.HasSuffix(out, tt.out) || !strings.Contains(errOut, tt.err) {
			t.Errorf("final %s: stdout %q stderr %q", tt.final.State, out, errOut)
		}
		// Not a terminal: plain lines, no progress bar.
		if !strings.Contains(out, "50% step 50\n90% step 90\n") || strings.Contains(errOut, "|") {
			t.Errorf("final %s: want a line per step and no bar: stdout %q stderr %q", tt.final.State, out, errOut)
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

// TestUpdateHelp checks the flag lines of `hoist update --help`: package flag
// takes a backquoted word in a usage as the flag's argument name.
func TestUpdateHelp(t *testing.T) {
	_, errOut := userCmd(t, 0, "update", "--help")
	for _, want := range []string{"  -to vX.Y.Z\n", `the one "hoist check" names`, "  -wait\n"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("update --help lacks %q:\n%s", want, errOut)
		}
	}
}

// TestCheckToken runs hoist check against a private repository: the
// credentials of a repo URL never show in its error, and token_file lets
// it read the releases.
func TestCheckToken(t *testing.T) {
	const token = "ghp_CheckToken0123456789"
	repo := releaserepo.New(t, managertest.WalkReleases()...)
	url := repo.ServeHTTPAuth(t, token)
	leaky := strings.Replace(url, "http://", "http://ghp_UserToken@", 1) + "?access_token=QuerySecret"
	root := userRoot(t, leaky, repo.PubFile, "0.9.0")
	out, errOut := userCmd(t, exitcode.Failure, "check", "--root", root)
	if strings.Contains(out+errOut, "ghp_UserToken") || strings.Contains(out+errOut, "QuerySecret") {
		t.Errorf("check shows the URL's credentials: %s%s", out, errOut)
	}

	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	editConfig(t, root, func(c *config.Config) { c.Repo, c.TokenFile = url, tokenFile })
	if out, _ := userCmd(t, 0, "check", "--root", root); !strings.Contains(out, `"version":"1.5.0"`) {
		t.Errorf("check with token_file: %s", out)
	}
}

// editConfig changes the root's .hoist/config.json.
func editConfig(t *testing.T, dir string, edit func(*config.Config)) {
	t.Helper()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	c, err := config.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	edit(&c)
	if err := config.Save(root, c); err != nil {
		t.Fatal(err)
	}
}

// TestUpdateLockHeld: a process (a hostile manager) holds the flock on
// statuses/. hoist update gives up after request.LockWait with exit 3, and
// ends at once on SIGTERM while it waits.
func TestUpdateLockHeld(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("flock(1) not installed")
	}
	repo := releaserepo.New(t, managertest.WalkReleases()...)
	root := userRoot(t, repo.FileURL(), repo.PubFile, "0.9.0")
	statuses := filepath.Join(root, "statuses")
	holder := exec.Command("flock", statuses, "sleep", "600")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Wait()
	defer holder.Process.Kill()
	waitLocked(t, statuses)

	start := func() (*exec.Cmd, *bytes.Buffer) {
		var errOut bytes.Buffer
		cmd := exec.Command(testbin.Path(t, "hoist"), "update", "--root", root)
		cmd.Stderr = &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &errOut
	}
	// wait waits for cmd up to limit, killing it after that.
	wait := func(cmd *exec.Cmd, limit time.Duration) time.Duration {
		began := time.Now()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(limit):
			cmd.Process.Kill()
			<-done
			t.Errorf("hoist update still waited after %s", limit)
		}
		return time.Since(began)
	}

	cmd, errOut := start()
	took := wait(cmd, request.LockWait+10*time.Second)
	if code := cmd.ProcessState.ExitCode(); code != exitcode.Locked || !strings.Contains(errOut.String(), "has held the lock on statuses/ for over 5s") {
		t.Errorf("exit %d after %s: %s", code, took, errOut.String())
	}

	cmd, errOut = start()
	time.Sleep(request.LockWait / 5)
	cmd.Process.Signal(syscall.SIGTERM)
	if took := wait(cmd, request.LockWait/2); cmd.ProcessState.Success() {
		t.Errorf("exit 0 after SIGTERM (%s): %s", took, errOut.String())
	}
	if _, err := os.Stat(filepath.Join(root, "events/signals/update")); err == nil {
		t.Error("an update was requested")
	}
}

// waitLocked waits until another process holds the flock on dir.
func waitLocked(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return
		}
		if err == nil {
			syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		}
	}
	t.Fatal("flock(1) never took the lock")
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
