package supervisorproc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/testutil/tbrecord"
)

// appRoot returns an app root the supervisor can start on.
func appRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"events/signals", "triggers"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// dieOnItsOwn kills the supervisor behind the test's back, as a crash
// would: a lost signals directory no longer makes it exit.
func dieOnItsOwn(t *testing.T, p *Process) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	Eventually(t, "the supervisor to exit", func() bool {
		select {
		case <-p.exited:
			return true
		default:
			return false
		}
	})
}

func TestStopIsClean(t *testing.T) {
	t.Parallel()
	rec := tbrecord.New(t)
	p := Start(rec, appRoot(t), Options{Args: []string{"--grace", "1s"}})
	p.Alive()
	p.Stop()
	p.Stop() // as the cleanup does after the test stopped it
	p.Kill()
	if len(rec.Failures) != 0 {
		t.Errorf("failures: %q", rec.Failures)
	}
	if p.cmd.ProcessState.ExitCode() != 0 {
		t.Errorf("exit status %d after SIGTERM", p.cmd.ProcessState.ExitCode())
	}
}

func TestExitOnItsOwnIsReportedOnce(t *testing.T) {
	t.Parallel()
	root := appRoot(t)
	rec := tbrecord.New(t)
	p := Start(rec, root, Options{})
	dieOnItsOwn(t, p)
	p.Stop()
	p.Kill()
	p.Stop()
	if len(rec.Failures) != 1 || !strings.Contains(rec.Failures[0], "exited on its own: signal: killed") {
		t.Errorf("failures: %q, want one: exited on its own", rec.Failures)
	}
}

func TestKillIsNotReported(t *testing.T) {
	t.Parallel()
	rec := tbrecord.New(t)
	p := Start(rec, appRoot(t), Options{})
	p.Kill()
	p.Stop()
	if len(rec.Failures) != 0 {
		t.Errorf("failures: %q", rec.Failures)
	}
}

func TestCount(t *testing.T) {
	t.Parallel()
	p := &Process{t: t, logFile: filepath.Join(t.TempDir(), "log")}
	log := `{"msg":"trigger failed","trigger":"hang","error":"hang: timed out after 500ms"}
not json
{"msg":"trigger failed","trigger":"update","error":"update exited with status 1","pad":"` + strings.Repeat("x", 100_000) + `"}
{"msg":"trigger started","trigger":"hang"}
{"msg":"trigger failed","trigger":"ha`
	if err := os.WriteFile(p.logFile, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		msg    string
		fields []string
		want   int
	}{
		{"trigger failed", nil, 2},
		{"trigger failed", []string{"trigger", "hang"}, 1},
		{"trigger failed", []string{"trigger", "han"}, 0},     // other fields match whole
		{"trigger failed", []string{"error", "timed out"}, 1}, // "error" matches a part
		{"trigger failed", []string{"error", "status 1"}, 1},  // after a line longer than 64 KiB
		{"trigger failed", []string{"error", "status 2"}, 0},
		{"trigger", nil, 0},
	} {
		if got := p.Count(c.msg, c.fields...); got != c.want {
			t.Errorf("Count(%q, %q) = %d, want %d", c.msg, c.fields, got, c.want)
		}
	}
}
