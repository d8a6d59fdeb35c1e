package supervisor_test

// Tests of the real hoist-supervisor binary against real app roots: real
// inotify, real trigger processes, real signals.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/testutil/daemon"
	"github.com/hoist-dev/hoist/internal/testutil/supervisorproc"
	"github.com/hoist-dev/hoist/internal/testutil/testbin"
)

// appRoot is an app root for one test, with helpers to add triggers and
// write signals.
type appRoot struct {
	t   *testing.T
	dir string
}

func newAppRoot(t *testing.T) *appRoot {
	t.Helper()
	r := &appRoot{t: t, dir: t.TempDir()}
	for _, d := range []string{"events/signals", "triggers", "out"} {
		if err := os.MkdirAll(r.path(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r *appRoot) path(rel string) string { return filepath.Join(r.dir, rel) }

func (r *appRoot) signal(name string) string { return r.path("events/signals/" + name) }

// trigger writes triggers/name as a shell script with mode 0755.
func (r *appRoot) trigger(name, body string) string {
	r.t.Helper()
	p := r.path("triggers/" + name)
	testbin.WriteExecutable(r.t, p, []byte("#!/bin/sh\nset -eu\n"+body+"\n"))
	return p
}

// recorder writes a trigger that appends "<start ns> <args>" to out/name.
func (r *appRoot) recorder(name string) {
	r.trigger(name, `echo "$(date +%s%N) $*" >> "$HOIST_ROOT/out/`+name+`"`)
}

// runs returns the lines recorded by recorder name.
func (r *appRoot) runs(name string) []string {
	data, err := os.ReadFile(r.path("out/" + name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		r.t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// sh runs script with cwd the signals directory.
func (r *appRoot) sh(script string) {
	r.t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = r.path("events/signals")
	if out, err := cmd.CombinedOutput(); err != nil {
		r.t.Fatalf("%s: %v\n%s", script, err, out)
	}
}

// waitRuns waits until recorder name has recorded n runs, then checks that
// no more follow for a moment.
func (r *appRoot) waitRuns(name string, n int) []string {
	r.t.Helper()
	daemon.Eventually(r.t, fmt.Sprintf("%d runs of %s", n, name), func() bool { return len(r.runs(name)) >= n })
	time.Sleep(100 * time.Millisecond)
	runs := r.runs(name)
	if len(runs) != n {
		r.t.Fatalf("%s ran %d times, want %d: %q", name, len(runs), n, runs)
	}
	return runs
}

// supervise starts the built hoist-supervisor on the root with args.
func (r *appRoot) supervise(args ...string) *supervisorproc.Process {
	r.t.Helper()
	return supervisorproc.Start(r.t, r.dir, supervisorproc.Options{Args: args})
}

// linkOrCopy puts the file src at dst, by a hard link where possible.
func linkOrCopy(t *testing.T, src, dst string) {
	t.Helper()
	if os.Link(src, dst) == nil {
		return
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	testbin.WriteExecutable(t, dst, data)
}

func TestSignalWritersFireOnce(t *testing.T) {
	t.Parallel()
	r := newAppRoot(t)
	r.recorder("update")
	r.supervise()

	r.sh("echo > update")
	r.waitRuns("update", 1)
	r.sh(`t=$(mktemp -p "$PWD/../..") && echo x > "$t" && mv "$t" update`)
	r.waitRuns("update", 2)
	r.sh("touch update")
	r.waitRuns("update", 3)
	r.sh("echo x > .tmp && mv .tmp update") // an atomic replace inside the directory
	r.waitRuns("update", 4)
	// link(2) makes only a creation event, of a file with two links.
	r.sh("echo x > ../../linked && ln ../../linked update")
	r.waitRuns("update", 5)
	if _, err := os.Lstat(r.signal("update")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("signal file not removed: %v", err)
	}
	if data, err := os.ReadFile(r.path("linked")); err != nil || string(data) != "x\n" {
		t.Errorf("the file linked in changed: %q, %v", data, err)
	}
}

// A file being written is not a signal until closed, and readers of the
// directory or of the file never make one.
func TestReadersAndOpenWritersDoNotFire(t *testing.T) {
	t.Parallel()
	r := newAppRoot(t)
	r.recorder("update")
	r.supervise()

	f, err := os.Create(r.signal("update"))
	if err != nil {
		t.Fatal(err)
	}
	r.sh("ls -la >/dev/null; cat update; : < update; ls ..; stat update >/dev/null")
	time.Sleep(200 * time.Millisecond)
	if runs := r.runs("update"); len(runs) != 0 {
		t.Fatalf("fired before the writer closed: %q", runs)
	}
	if _, err := f.WriteString("go\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if runs := r.runs("update"); len(runs) != 0 {
		t.Fatalf("fired before the writer closed: %q", runs)
	}
	f.Close()
	r.waitRuns("update", 1)
}

func TestBurstIsCoalescedNeverOverlapsAndLosesNothing(t *testing.T) {
	t.Parallel()
	r := newAppRoot(t)
	// The trigger takes a lock directory for its whole run: finding it
	// taken means two runs overlap.
	r.trigger("burst", `
mkdir "$HOIST_ROOT/out/running" 2>/dev/null || echo overlap >> "$HOIST_ROOT/out/overlap"
date +%s%N >> "$HOIST_ROOT/out/burst"
sleep 0.02
rmdir "$HOIST_ROOT/out/running"`)
	d := r.supervise()

	const n = 1000
	var lastWrite int64
	for i := range n {
		lastWrite = time.Now().UnixNano() // before the write begins
		if i%2 == 0 {
			if err := os.WriteFile(r.signal("burst"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		tmp := r.path("out/tmp")
		if err := os.WriteFile(tmp, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, r.signal("burst")); err != nil {
			t.Fatal(err)
		}
	}
	// Every write must be followed by a run that started after it: the
	// last run must start after the last write.
	daemon.Eventually(t, "a run after the last write", func() bool {
		runs := r.runs("burst")
		if len(runs) == 0 {
			return false
		}
		last, _ := strconv.ParseInt(runs[len(runs)-1], 10, 64)
		return last > lastWrite
	})
	daemon.Eventually(t, "all runs finished", func() bool {
		return d.Count("trigger finished", "trigger", "burst") == d.Count("trigger started", "trigger", "burst")
	})
	runs := r.runs("burst")
	t.Logf("%d signals, %d runs", n, len(runs))
	if len(runs) > n/4 {
		t.Errorf("%d runs for %d signals: not coalesced", len(runs), n)
	}
	if _, err := os.Stat(r.path("out/overlap")); err == nil {
		t.Error("two runs of one trigger overlapped")
	}
	if _, err := os.Lstat(r.signal("burst")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("signal left behind: %v", err)
	}
}

// Each trigger waits for the other to have started: both succeed only if
// they run at the same time.
func TestDifferentTriggersRunConcurrently(t *testing.T) {
	t.Parallel()
	r := newAppRoot(t)
	for _, pair := range [][2]string{{"left", "right"}, {"right", "left"}} {
		r.trigger(pair[0], `
cd "$HOIST_ROOT/out"
touch `+pair[0]+`.started
i=0
while [ ! -e `+pair[1]+`.started ]; do
	i=$((i+1)); [ $i -lt 500 ] || exit 1
	sleep 0.01
done
touch `+pair[0]+`.ok`)
	}
	r.supervise()
	r.sh("echo > left; echo > right")
	daemon.Eventually(t, "both triggers to see each other running", func() bool {
		_, errL := os.Stat(r.path("out/left.ok"))
		_, errR := os.Stat(r.path("out/right.ok"))
		return errL == nil && errR == nil
	})
}

func TestHostileSignalsAreRefusedOnce(t *testing.T) {
	t.Parallel()
	r := newAppRoot(t)
	long := strings.Repeat("a", 65)
	invalid := []string{".hidden", long, "Update", "a b", "ünï"}
	unsafe := []string{"fifo", "dir", "link", "movedlink"}
	// Recorders prove that nothing ran for what is refused.
	for _, name := range append(append([]string{"update", "hidden", strings.Repeat("a", 64)}, invalid...), unsafe...) {
		r.recorder(name)
	}
	d := r.supervise()

	for _, name := range invalid {
		for range 2 { // written twice, logged once
			if err := os.WriteFile(r.signal(name), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	r.sh("mkfifo fifo && mkdir dir && ln -s ../../triggers/update link && ln -s /etc/shadow ../movedlink && mv ../movedlink .")
	// Still alive and serving: a valid signal, and the longest valid name.
	r.sh("echo > update && echo > " + strings.Repeat("a", 64))
	r.waitRuns("update", 1)
	r.waitRuns(strings.Repeat("a", 64), 1)
	// A fifo that was opened for writing (never by the supervisor) and
	// written to is refused again without a new log line.
	r.sh("sleep 0.2 > fifo & exec 3<fifo; wait")

	for _, name := range invalid {
		d.WaitLog("ignoring entry in signals directory: invalid signal name", "name", name)
	}
	for name, kind := range map[string]string{"fifo": "fifo", "dir": "directory", "link": "symlink", "movedlink": "symlink"} {
		d.WaitLog("refusing signal: not a regular file", "name", name, "reason", kind)
	}
	time.Sleep(100 * time.Millisecond)
	for _, name := range invalid {
		if n := d.Count("ignoring entry in signals directory: invalid signal name", "name", name); n != 1 {
			t.Errorf("%q logged %d times, want once", name, n)
		}
		if _, err := os.Stat(r.signal(name)); err != nil {
			t.Errorf("ignored %q was changed: %v", name, err)
		}
	}
	for _, name := range unsafe {
		if n := d.Count("refusing signal: not a regular file", "name", name); n != 1 {
			t.Errorf("%s refused %d times in the log, want once", name, n)
		}
		if _, err := os.Lstat(r.signal(name)); err != nil {
			t.Errorf("refused %s was changed: %v", name, err)
		}
	}
	for _, name := range append(append([]string{"hidden"}, invalid...), unsafe...) {
		if runs := r.runs(name); len(runs) > 0 {
			t.Errorf("trigger %q ran for a refused signal", name)
		}
	}
}

func TestUnsafeTriggersAreRefused(t *testing.T) {
	t.Parallel()
	r := newAppRoot(t)
	r.recorder("update")
	// Each unsafe trigger would leave a mark if it ran.
	mark := func(name string) string {
		return r.trigger(name, `touch "$HOIST_ROOT/out/ran-`+name+`"`)
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Chmod(mark("groupwritable"), 0o775))
	must(os.Chmod(mark("worldwritable"), 0o757))
	must(os.Chmod(mark("notexec"), 0o644))
	must(os.Chown(mark("foreign"), 1234, 1234))
	must(os.Symlink(mark("target"), r.path("triggers/symlink")))
	must(os.Mkdir(r.path("triggers/dir"), 0o755))
	reasons := map[string]string{
		"groupwritable": "writable by group or others",
		"worldwritable": "writable by group or others",
		"notexec":       "not executable",
		"foreign":       "owned by uid 1234",
		"symlink":       "symlink",
		"dir":           "not a regular file (directory)",
	}
	d := r.supervise()
	for name := range reasons {
		r.sh("echo > " + name)
	}
	for name, reason := range reasons {
		d.WaitLog("refusing trigger triggers/"+name, "trigger", name, "error", reason)
	}
	r.sh("echo > update")
	r.waitRuns("update", 1)
	for name := range reasons {
		if _, err := os.Stat(r.path("out/ran-" + name)); err == nil {
			t.Errorf("unsafe trigger %s ran", name)
		}
		if _, err := os.Lstat(r.signal(name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("signal %s not consumed: %v", name, err)
		}
	}
	if _, err := os.Stat(r.path("out/ran-target")); err == nil {
		t.Error("the symlink's target ran")
	}
}

// A triggers directory others can write to could get a trigger planted in
// it: nothing runs from it until its mode is safe again.
func TestUnsafeTriggersDirIsRefused(t *testing.T) {
	t.Parallel()
	r := newAppRoot(t)
	r.recorder("update")
	d := r.supervise()
	if err := os.Chmod(r.path("triggers"), 0o777); err != nil {
		t.Fatal(err)
	}
	r.sh("echo > update")
	d.WaitLog("refusing trigger triggers/update", "trigger", "update",
		"error", "directory triggers: unsafe trigger: writable by group or others (mode 0777)")
	if _, err := os.Lstat(r.signal("update")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("signal not consumed: %v", err)
	}
	if err := os.Chmod(r.path("triggers"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.sh("echo > update")
	r.waitRuns("update", 1) // and none for the refused signal
}

// A signals directory replaced by a symlink, or removed, while the
// supervisor runs serves nothing and is logged once; the supervisor stays up
// and serves a real directory again as soon as it is back.
func TestSignalsDirLostAndBack(t *testing.T) {
	t.Parallel()
	r := newAppRoot(t)
	r.recorder("update")
	d := r.supervise()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "update"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	signals := r.path("events/signals")
	if err := os.Rename(signals, signals+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, signals); err != nil {
		t.Fatal(err)
	}
	d.WaitSignalsLost()
	d.WaitLog(supervisorproc.SignalsUnusable, "error", "signals directory events/signals is a symlink")
	// Written while it is down; served once it is back.
	if err := os.WriteFile(filepath.Join(signals+".old", "update"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond) // two rechecks more
	d.Alive()
	// If seen between the rename and the symlink, it was missing first: each
	// reason is logged once, not at every recheck.
	if n := d.Count(supervisorproc.SignalsUnusable, "error", "is a symlink"); n != 1 {
		t.Errorf("symlinked directory logged %d times, want once", n)
	}
	if runs := r.runs("update"); len(runs) != 0 {
		t.Errorf("update ran from the symlinked directory: %q", runs)
	}
	if _, err := os.Stat(filepath.Join(outside, "update")); err != nil {
		t.Errorf("signal behind the symlink touched: %v", err)
	}

	if err := os.Remove(signals); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(signals+".old", signals); err != nil {
		t.Fatal(err)
	}
	r.waitRuns("update", 1)
	if n := d.Count("watching signals"); n != 2 {
		t.Errorf("watching signals logged %d times, want 2", n)
	}

	// Removed without any inotify event: found by the recheck.
	if err := os.RemoveAll(signals); err != nil {
		t.Fatal(err)
	}
	d.WaitLog(supervisorproc.SignalsLost, "error", "no such file or directory")
	d.WaitLog(supervisorproc.SignalsUnusable, "error", "no such file or directory")
	if err := os.Mkdir(signals, 0o755); err != nil {
		t.Fatal(err)
	}
	d.WaitLog("watching signals")
	daemon.Eventually(t, "the new directory watched", func() bool { return d.Count("watching signals") == 3 })
	r.sh("echo > update")
	r.waitRuns("update", 2)
}

// A supervisor started on a symlinked signals directory starts, serves
// nothing from it, and serves the real directory once it is there.
func TestSignalsDirSymlinkedAtStart(t *testing.T) {
	t.Parallel()
	r := newAppRoot(t)
	r.recorder("update")
	signals := r.path("events/signals")
	if err := os.Rename(signals, signals+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("signals.old", signals); err != nil {
		t.Fatal(err)
	}
	r.sh("echo > update")
	d := r.supervise()
	d.WaitLog(supervisorproc.SignalsUnusable, "error", "signals directory events/signals is a symlink")
	time.Sleep(1500 * time.Millisecond)
	if runs := r.runs("update"); len(runs) != 0 {
		t.Errorf("update ran through the symlink: %q", runs)
	}
	if err := os.Remove(signals); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(signals+".old", signals); err != nil {
		t.Fatal(err)
	}
	r.waitRuns("update", 1)
}

func TestAppAndRepoSignalsAndMissingTriggers(t *testing.T) {
	t.Parallel()
	r := newAppRoot(t)
	for _, name := range []string{"app", "repo", "app-special"} {
		r.recorder(name)
	}
	d := r.supervise()
	r.sh("echo > app-nextcloud && echo > repo-main-2 && echo > app-special && echo > nothing && echo > app-")
	if got := r.waitRuns("app", 1); !strings.HasSuffix(got[0], " nextcloud") {
		t.Errorf("app ran with %q, want argument nextcloud", got[0])
	}
	if got := r.waitRuns("repo", 1); !strings.HasSuffix(got[0], " main-2") {
		t.Errorf("repo ran with %q, want argument main-2", got[0])
	}
	if got := r.waitRuns("app-special", 1); len(strings.Fields(got[0])) != 1 {
		t.Errorf("app-special ran with arguments: %q", got[0])
	}
	d.WaitLog("no trigger for signal nothing", "signal", "nothing")
	d.WaitLog("no trigger for signal app-", "signal", "app-")
	for _, name := range []string{"nothing", "app-"} {
		if _, err := os.Lstat(r.signal(name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("signal %s without trigger not dropped: %v", name, err)
		}
	}
}

// hangingTrigger writes a trigger that starts a child, records its pid and
// waits for it forever.
func hangingTrigger(r *appRoot, name string) {
	r.trigger(name, `sleep 300 & echo $! > "$HOIST_ROOT/out/`+name+`.pid"; wait`)
}

func TestHangingTriggerIsKilledWithItsChildren(t *testing.T) {
	t.Parallel()
	r := newAppRoot(t)
	hangingTrigger(r, "hang")
	r.recorder("update")
	d := r.supervise("--trigger-timeout", "500ms")
	r.sh("echo > hang")
	child := waitPidFile(t, r.path("out/hang.pid"))
	d.WaitLog("trigger failed", "trigger", "hang", "error", "timed out after 500ms")
	daemon.Eventually(t, "the trigger's child to die", func() bool { return !alive(child) })
	r.sh("echo > update")
	r.waitRuns("update", 1)
}

func TestSecondSupervisorExits3(t *testing.T) {
	t.Parallel()
	r := newAppRoot(t)
	r.supervise()
	res := testbin.Run(t, nil, testbin.Path(t, "hoist-supervisor"), "--root", r.dir)
	if res.Code != 3 {
		t.Fatalf("second supervisor: %s, want exit status 3", res)
	}
	lines := strings.Split(strings.TrimSpace(res.Stderr), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "hoist-supervisor: another hoist-supervisor is running for "+r.dir) {
		t.Errorf("error line %q", last)
	}
}

func TestSIGTERMWaitsForGraceThenKills(t *testing.T) {
	t.Parallel()
	r := newAppRoot(t)
	hangingTrigger(r, "hang")
	r.trigger("quick", `sleep 0.4; touch "$HOIST_ROOT/out/quick.done"`)
	d := r.supervise("--grace", "1s")
	r.sh("echo > hang && echo > quick")
	child := waitPidFile(t, r.path("out/hang.pid"))
	d.WaitLog("trigger started", "trigger", "quick")
	r.sh("echo > quick") // pending behind the running quick: left for the next start

	start := time.Now()
	d.Stop()
	took := time.Since(start)
	if took < time.Second {
		t.Errorf("exited after %s, before the grace period", took)
	}
	if _, err := os.Stat(r.path("out/quick.done")); err != nil {
		t.Error("a trigger finishing within the grace period was not waited for")
	}
	if alive(child) {
		t.Error("the hanging trigger's child survived the shutdown")
	}
	d.WaitLog("trigger failed", "trigger", "hang", "error", "killed at shutdown")
	if _, err := os.Stat(r.signal("quick")); err != nil {
		t.Errorf("pending signal not kept for the next start: %v", err)
	}
}

func TestSignalsPresentAtStartAreServed(t *testing.T) {
	t.Parallel()
	r := newAppRoot(t)
	r.recorder("update")
	r.recorder("rollback")
	r.sh("echo > update && touch rollback && mkfifo fifo && echo > .hidden")
	d := r.supervise()
	r.waitRuns("update", 1)
	r.waitRuns("rollback", 1)
	d.WaitLog("refusing signal: not a regular file", "name", "fifo")
	d.WaitLog("ignoring entry in signals directory: invalid signal name", "name", ".hidden")
}

// The supervisor runs `hoist recover` from its own directory, asking for
// JSON logs, before it watches, carries on when recover fails, and puts its
// directory first on the triggers' PATH.
func TestRecoverAndTriggerEnvironment(t *testing.T) {
	t.Parallel()
	r := newAppRoot(t)
	bin := t.TempDir()
	linkOrCopy(t, testbin.Path(t, "hoist-supervisor"), filepath.Join(bin, "hoist-supervisor"))
	fake := "#!/bin/sh\necho \"$* $HOIST_LOG_FORMAT\" > " + r.path("out/recover") +
		"\necho '{\"level\":\"warning\",\"msg\":\"recovering\"}'; echo broken >&2; exit 1\n"
	testbin.WriteExecutable(t, filepath.Join(bin, "hoist"), []byte(fake))
	r.trigger("update", `{ command -v hoist; echo "$HOIST_ROOT"; pwd; echo "${NOTIFY_SOCKET:-unset}"; } > "$HOIST_ROOT/out/env"`)
	d := supervisorproc.Start(t, r.dir, supervisorproc.Options{Bin: filepath.Join(bin, "hoist-supervisor")})

	if got, _ := os.ReadFile(r.path("out/recover")); string(got) != "recover --root "+r.dir+" json\n" {
		t.Errorf("hoist ran with %q, want recover --root ROOT and HOIST_LOG_FORMAT=json", got)
	}
	if d.Count("recovering", "level", "warning", "script", "hoist recover", "stream", "stdout") != 1 ||
		d.Count("broken", "script", "hoist recover", "stream", "stderr") != 1 ||
		d.Count("hoist recover failed; continuing", "error", "hoist recover exited with status 1") != 1 {
		t.Error("recover's output and failure not logged")
	}
	r.sh("echo > update")
	daemon.Eventually(t, "the trigger's environment", func() bool {
		got, _ := os.ReadFile(r.path("out/env"))
		return bytes.Count(got, []byte("\n")) == 4
	})
	got, _ := os.ReadFile(r.path("out/env"))
	want := filepath.Join(bin, "hoist") + "\n" + r.dir + "\n" + r.dir + "\nunset\n"
	if string(got) != want {
		t.Errorf("trigger saw\n%s\nwant\n%s", got, want)
	}
}

// A trigger that runs the engine, as the shipped update trigger does, gets
// the engine's log lines into the supervisor's log as entries of their own:
// at their level, with their fields and the trigger's. Other lines, like
// the command's last error line, stay messages of info entries.
func TestEngineLinesAreEntries(t *testing.T) {
	t.Parallel()
	hoist := testbin.Path(t, "hoist")
	key := filepath.Join(t.TempDir(), "k")
	root := filepath.Join(t.TempDir(), "app")
	repo := "file://" + filepath.Join(t.TempDir(), "missing")
	for _, args := range [][]string{
		{"release", "keygen", "--out", key},
		{"init", root, "--repo", repo, "--pub", key + ".pub"},
	} {
		if res := testbin.Run(t, nil, hoist, args...); res.Code != 0 {
			t.Fatalf("hoist %q: %s", args, res)
		}
	}
	r := &appRoot{t: t, dir: root}
	r.trigger("update", `exec hoist apply --root "$HOIST_ROOT" --to v1.0.0`)
	d := r.supervise()
	r.sh("echo > update")
	d.WaitLog("trigger failed", "trigger", "update")

	ours := []string{"trigger", "update", "signal", "update", "script", "update", "stream", "stderr"}
	if n := d.Count("update to v1.0.0 failed", append(ours, "level", "error", "error", "repository does not exist")...); n != 1 {
		t.Errorf("the engine's error logged %d times as an error entry, want once", n)
	}
	if n := d.Count("Downloading v1.0.0", append(ours, "level", "info", "state", "installing")...); n != 1 {
		t.Errorf("the engine's progress logged %d times as an info entry with its state, want once", n)
	}
	plain := 0
	for _, e := range d.Entries() {
		if strings.HasPrefix(e.Str("msg"), "hoist apply: download v1.0.0: ") && e.Str("level") == "info" && e.Str("script") == "update" {
			plain++
		}
	}
	if plain != 1 {
		t.Errorf("the command's error line logged %d times as an info message, want once", plain)
	}
}

// waitPidFile waits for a process id written, with a newline, to path, and
// kills that process when the test ends.
func waitPidFile(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(daemon.Timeout)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile(path)
		if err == nil && bytes.HasSuffix(data, []byte("\n")) {
			pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
			return pid
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no process id in %s", path)
	return 0
}

// alive reports whether process pid runs; a zombie waiting for its reaper
// (the trigger's orphans are reparented) does not.
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the state follows the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}
