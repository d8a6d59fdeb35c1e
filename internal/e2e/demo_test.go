package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/testutil/syncbuf"
	"github.com/hoist-dev/hoist/internal/testutil/testbin"
)

// TestDemo runs `make demo`'s script as a user would: once to the end, once
// stopped with Ctrl-C while it shows the web page. Either way the update
// must have reached v1.1.0 and nothing may be left running or on disk.
func TestDemo(t *testing.T) {
	lookPathOrSkip(t, "git")
	lookPathOrSkip(t, "curl")
	tests := []struct {
		name      string
		exit      string // DEMO_EXIT
		interrupt bool   // send Ctrl-C once the page is served
	}{
		{"exits after the update", "1", false},
		{"stops on Ctrl-C", "0", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := freePort(t)
			out := runDemo(t, "demo.sh", tt.interrupt, "DEMO_EXIT="+tt.exit, fmt.Sprint("DEMO_PORT=", port))
			for _, want := range []*regexp.Regexp{
				regexp.MustCompile(`"message":\s*"Updating to v1\.1\.0"`),
				regexpVersion("1.1.0"),
				regexp.MustCompile(regexp.QuoteMeta(fmt.Sprintf("Web page: http://127.0.0.1:%d/", port))),
			} {
				if !want.MatchString(out) {
					t.Errorf("demo output lacks %s:\n%s", want, out)
				}
			}
		})
	}
}

// TestDemoDocker runs `make demo-docker`'s script on a private engine: the
// sample stack answers 2.0.0 at the end, and no container is left.
func TestDemoDocker(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no Docker demo")
	}
	lookPathOrSkip(t, "git")
	lookPathOrSkip(t, "curl")
	lookPathOrSkip(t, "go")
	d := startDockerd(t)
	out := runDemo(t, "demo-docker.sh", false, "DEMO_EXIT=1", "DOCKER_HOST="+d.host,
		fmt.Sprint("DEMO_PORT=", freePort(t)))
	for _, want := range []string{`{"service":"web","version":"2.0.0"}`, `{"service":"api","version":"2.0.0"}`} {
		if !strings.Contains(out, want) {
			t.Errorf("demo-docker output lacks %s:\n%s", want, out)
		}
	}
	if left, err := d.docker(context.Background(), "ps", "-aq"); err != nil || strings.TrimSpace(left) != "" {
		t.Errorf("containers left after the demo: %q %v", left, err)
	}
}

// runDemo runs deploy/SCRIPT with env added, optionally sends Ctrl-C once it
// waits for it, and returns its output after checking that it succeeded and
// left no process and no temporary directory behind.
func runDemo(t *testing.T, script string, interrupt bool, env ...string) string {
	t.Helper()
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(repoRoot(t), "deploy", script))
	cmd.Env = append(os.Environ(), "HOIST_BIN="+testbin.Dir(t), "TMPDIR="+tmp, "DEMO_STEP_PAUSE=0.05")
	cmd.Env = append(cmd.Env, env...)
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second // a child left holding the output must not hang the test
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	if interrupt {
		if !waitFor(ctx, func() bool { return strings.Contains(out.String(), "Press Ctrl-C") }) {
			t.Fatalf("%s never waited for Ctrl-C:\n%s", script, out)
		}
		if err := syscall.Kill(-pgid, syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	if err := syscall.Kill(-pgid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("processes of %s still run after it exited (kill -0: %v)", script, err)
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "hoist-demo.*")); len(left) > 0 {
		t.Errorf("%s left %v behind", script, left)
	}
	return out.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitFor polls cond every 100ms until it holds or ctx ends.
func waitFor(ctx context.Context, cond func() bool) bool {
	for !cond() {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
	return true
}
