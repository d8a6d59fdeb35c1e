package faults_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/request"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/daemon"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
	"github.com/hoist-dev/hoist/internal/testutil/supervisorproc"
)

// startSupervisor starts hoist-supervisor on root with a grace period of
// 2 s and env added to its environment (and so to its triggers').
func startSupervisor(t *testing.T, root string, env ...string) *supervisorproc.Process {
	t.Helper()
	return supervisorproc.Start(t, root, supervisorproc.Options{Args: []string{"--grace", "2s"}, Env: env})
}

// requestUpdate asks for an update to tg exactly as the manager does.
func requestUpdate(t *testing.T, root, tg string) {
	t.Helper()
	d, err := request.OpenDirs(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := request.Update(t.Context(), d, tg); err != nil {
		t.Fatalf("request update to %s: %v", tg, err)
	}
}

// writeSignal writes the signal name as the manager may: any bytes, any
// number of times.
func writeSignal(t *testing.T, root, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(root, "events/signals", name), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// holding starts holding v1.1.0's 02-run.sh (see holdEnv) and returns the
// directory to pass in holdEnv.
func holding(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hold"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// heldPID waits until 02-run.sh holds and returns its process id.
func heldPID(t *testing.T, dir string) int {
	t.Helper()
	var pid int
	daemon.Eventually(t, "02-run.sh to hold", func() bool {
		data, err := os.ReadFile(filepath.Join(dir, "holding"))
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(data)))
		return err == nil
	})
	return pid
}

// parentPID returns the parent of process pid.
func parentPID(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// "pid (comm) state ppid ...": comm may hold spaces; it ends at the last ')'.
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		t.Fatal(err)
	}
	return ppid
}

func running(pid int) bool { return syscall.Kill(pid, 0) == nil && !zombie(pid) }

func zombie(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(data, ')')
	return i+2 < len(data) && (data[i+2] == 'Z' || data[i+2] == 'X')
}

// held is an update held in v1.1.0's 02-run.sh.
type held struct {
	dir           string // the directory passed in holdEnv
	script, apply int    // process ids of 02-run.sh and of hoist apply
}

// killedDuringUpdate requests v1.1.0 on a copy of a new site's root,
// starts a supervisor, and kills it with SIGKILL while its update trigger
// holds in 02-run.sh; the trigger is left running.
func killedDuringUpdate(t *testing.T) (*site, string, held) {
	t.Helper()
	s := newSite(t, full)
	root := s.copy(filepath.Join(t.TempDir(), "app"))
	h := held{dir: holding(t)}
	requestUpdate(t, root, s.to)
	first := startSupervisor(t, root, holdEnv+"="+h.dir)
	h.script = heldPID(t, h.dir)
	h.apply = parentPID(t, h.script)
	first.Kill()
	t.Cleanup(func() { syscall.Kill(-h.apply, syscall.SIGKILL); syscall.Kill(-h.script, syscall.SIGKILL) })
	return s, root, h
}

// restartWithPending writes signals as the manager may while no supervisor
// runs (an update again, three pings), starts a supervisor and waits until
// it has served them.
func restartWithPending(t *testing.T, root string) *supervisorproc.Process {
	t.Helper()
	writeSignal(t, root, "update")
	for range 3 {
		writeSignal(t, root, "ping")
	}
	sup := startSupervisor(t, root) // without the hold
	daemon.Eventually(t, "the pending signals to be served", func() bool {
		return sup.Count("trigger started", "trigger", "update") == 1 && sup.Count("trigger started", "trigger", "ping") == 1
	})
	sup.WaitIdle()
	return sup
}

// settles fails the test unless root's status leaves installing within a
// few seconds although no update runs any more: a status stuck there makes
// the manager refuse every request (409) until a supervisor restart.
func settles(t *testing.T, root, what string) {
	t.Helper()
	stuck := func() bool { return readStatus(t, root).State == statusfile.Installing }
	for deadline := time.Now().Add(5 * time.Second); stuck() && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if stuck() {
		t.Errorf("%s: status %+v (the manager refuses every request until a restart)", what, readStatus(t, root))
	}
}

// TestSupervisorKilledDuringUpdate kills the supervisor while its update
// trigger runs `hoist apply` (held in v1.1.0's 02-run.sh), writes signals
// while it is down, and starts it again. The apply's process group and its
// script's die with the supervisor, as systemd kills a unit's whole cgroup:
// the new supervisor's recover undoes the update before anything else, then
// serves the pending update signal, which installs v1.1.0. Every signal
// written while the supervisor was down is served exactly once (three pings
// coalesce into one run).
func TestSupervisorKilledDuringUpdate(t *testing.T) {
	s, root, h := killedDuringUpdate(t)
	syscall.Kill(-h.apply, syscall.SIGKILL) // proc.Run gives each its own process group
	syscall.Kill(-h.script, syscall.SIGKILL)
	second := restartWithPending(t, root)
	second.Alive()
	second.Stop()

	if got := s.settled(t, root); got != "new" {
		t.Errorf("root holds the %s release, want v1.1.0", got)
	}
	if !strings.Contains(second.Log(), "update to v1.1.0 was interrupted; restored v1.0.0") {
		t.Error("the restarted supervisor's recover did not undo the interrupted update")
	}
	runs := releaserepo.ScriptRuns(t, root)
	restart := slices.IndexFunc(runs, func(l string) bool { return strings.HasPrefix(l, "v1.0.0/01 release=v1.0.0 from=1.1.0 ") })
	if restart < 0 || restart+1 >= len(runs) || !strings.HasPrefix(runs[restart+1], "v1.1.0/00 ") {
		t.Errorf("recover did not run v1.0.0's 01-run.sh before the retry; scripts ran:\n%s", strings.Join(runs, "\n"))
	}
	if runs := triggerRuns(t, root); len(runs) != 1 || runs[0] != "ping " {
		t.Errorf("recorded trigger runs %q, want one ping", runs)
	}
	for _, trig := range []string{"update", "ping"} {
		if n := second.Count("trigger started", "trigger", trig); n != 1 {
			t.Errorf("%s ran %d times after the restart, want once", trig, n)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "events/signals")); len(entries) != 0 {
		t.Errorf("signals left: %v", entries)
	}
}

// TestSupervisorRestartedWhileItsTriggerRuns kills only the supervisor, not
// its trigger, and starts a new one at once (a restart by hand, or by a
// service manager that does not kill the old process group). The orphaned
// apply still holds the lock: the new supervisor's recover and the pending
// update's apply exit 3 and change nothing. When the orphan's held script
// ends, the orphan's next log line goes to a pipe nobody reads: it must
// carry on and finish the update (it used to die of SIGPIPE there and leave
// a half-installed update with a status saying installing).
func TestSupervisorRestartedWhileItsTriggerRuns(t *testing.T) {
	s, root, h := killedDuringUpdate(t)
	apply := h.apply
	second := restartWithPending(t, root)
	if second.Count("hoist recover failed; continuing") != 1 || !strings.Contains(second.Log(), "hoist apply: an update is already in progress") {
		t.Error("the restarted supervisor's recover and the pending apply did not meet the orphan's lock")
	}

	os.Remove(filepath.Join(h.dir, "hold"))
	daemon.Eventually(t, "the orphaned apply to end", func() bool { return !running(apply) })
	settles(t, root, "the orphaned apply died mid-update and the running supervisor left it")
	second.Alive()
	second.Stop()
	if got := s.settled(t, root); got != "new" {
		t.Errorf("root holds the %s release: the orphan did not finish the update", got)
	}
	if runs := triggerRuns(t, root); len(runs) != 1 || runs[0] != "ping " {
		t.Errorf("recorded trigger runs %q, want one ping", runs)
	}
}

// TestUpdateKilledUnderRunningSupervisor kills `hoist apply` (held in
// 02-run.sh) with SIGKILL, as the OOM killer or an impatient admin would,
// while the supervisor that started it keeps running. The trigger fails;
// the half-done update must not stay behind a status saying installing,
// which makes the manager refuse every request, until the supervisor
// happens to restart.
func TestUpdateKilledUnderRunningSupervisor(t *testing.T) {
	s := newSite(t, full)
	root := s.copy(filepath.Join(t.TempDir(), "app"))
	hold := holding(t)
	requestUpdate(t, root, s.to)
	sup := startSupervisor(t, root, holdEnv+"="+hold)
	script := heldPID(t, hold)
	apply := parentPID(t, script)
	syscall.Kill(-apply, syscall.SIGKILL)
	syscall.Kill(-script, syscall.SIGKILL)
	sup.WaitIdle()
	if sup.Count("trigger failed", "trigger", "update") != 1 {
		t.Fatal("the killed update's trigger did not fail")
	}
	settles(t, root, "the killed update is left half done while the supervisor runs")
	sup.Alive()
	sup.Stop()
	startSupervisor(t, root).Stop() // a restart recovers, whatever happened before
	if got := s.settled(t, root); got != "old" {
		t.Errorf("root holds the %s release", got)
	}
}
