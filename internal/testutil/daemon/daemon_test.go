package daemon

import (
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/testutil/tbrecord"
)

// service is a program that says it is ready and exits 0 on SIGTERM.
var service = []string{"-c", `echo starting; echo ready; trap "exit 0" TERM; while :; do sleep 0.05; done`}

func start(t testing.TB) *Process { return Start(t, "/bin/sh", service, nil) }

// dieOnItsOwn kills the process behind the test's back, as a crash would.
func dieOnItsOwn(t *testing.T, p *Process) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	Eventually(t, "the process to exit", func() bool {
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
	p := start(rec)
	if got := p.WaitLine("the ready line", func(l string) bool { return strings.HasPrefix(l, "rea") }); got != "ready" {
		t.Errorf("WaitLine = %q, want the whole line", got)
	}
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
	rec := tbrecord.New(t)
	p := start(rec)
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
	p := start(rec)
	p.Kill()
	p.Stop()
	if len(rec.Failures) != 0 {
		t.Errorf("failures: %q", rec.Failures)
	}
}
