package faults_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/daemon"
	"github.com/hoist-dev/hoist/internal/testutil/outside"
	"github.com/hoist-dev/hoist/internal/testutil/supervisorproc"
)

// rig is an app root served by a running supervisor, with a directory
// outside it that hostile names point at. The test plays the manager:
// it writes statuses/ and events/signals/, as the unprivileged side can.
type rig struct {
	t    *testing.T
	s    *site
	root string
	out  *outside.Dir
	sup  *supervisorproc.Process
	runs []string // recorder lines so far
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{t: t, s: newSite(t, full), out: outside.New(t)}
	r.root = r.s.copy(filepath.Join(t.TempDir(), "app"))
	r.out.Seal(t)
	r.sup = startSupervisor(t, r.root)
	return r
}

func (r *rig) path(rel string) string { return filepath.Join(r.root, rel) }

// status writes the status file's bytes as the manager may.
func (r *rig) status(data string) {
	r.t.Helper()
	if err := os.WriteFile(r.path("statuses/"+statusfile.Name), []byte(data), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// requestTo writes a status asking for updateTo, then the update signal.
func (r *rig) requestTo(updateTo string) {
	r.t.Helper()
	data, err := json.Marshal(statusfile.Status{State: statusfile.Installing, Description: "Queued", UpdateTo: updateTo})
	if err != nil {
		r.t.Fatal(err)
	}
	r.status(string(data))
	writeSignal(r.t, r.root, "update")
}

// sync returns once the supervisor has handled everything written so far:
// it writes the signal repo-barrier and waits for its run (the supervisor
// handles events in order) and for every run to end.
func (r *rig) sync() {
	r.t.Helper()
	n := r.sup.Count("trigger started", "trigger", "repo", "signal", "repo-barrier")
	writeSignal(r.t, r.root, "repo-barrier")
	daemon.Eventually(r.t, "the barrier signal's run", func() bool {
		return r.sup.Count("trigger finished", "trigger", "repo", "signal", "repo-barrier") > n
	})
	r.sup.WaitIdle()
	r.runs = append(r.runs, "repo barrier")
}

// lastUpdate returns how the last run of the update trigger ended: its
// exit status as the supervisor logged it (0: finished).
func (r *rig) lastUpdate() string {
	var last string
	for _, e := range r.sup.Entries() {
		if e.Str("trigger") != "update" {
			continue
		}
		switch e.Str("msg") {
		case "trigger finished":
			last = "exit 0"
		case "trigger failed":
			last = strings.TrimPrefix(e.Str("error"), "update exited with status ")
			last = "exit " + last
		}
	}
	return last
}

// clear removes everything the manager's directories hold, as the manager
// can.
func (r *rig) clear() {
	r.t.Helper()
	for _, dir := range []string{"statuses", "events/signals"} {
		entries, err := os.ReadDir(r.path(dir))
		if err != nil {
			r.t.Fatal(err)
		}
		for _, e := range entries {
			if err := os.RemoveAll(r.path(dir + "/" + e.Name())); err != nil {
				r.t.Fatal(err)
			}
		}
	}
}

// hostileCase is one thing the manager does, and what must follow.
type hostileCase struct {
	name  string
	plant func(r *rig)
	// update is how the update trigger's run the case causes must end
	// ("exit 4"), or "" when the case must cause no run.
	update string
	runs   []string     // recorder lines the case adds
	check  func(r *rig) // more checks, before the manager's dirs are cleared
}

// run plays the cases in order on one root and supervisor. After each:
// the update run ended as required, exactly the recorder runs expected
// happened, the supervisor lives, the root is exactly v1.0.0 with the
// protected data untouched, and nothing outside the root was touched.
func (r *rig) run(cases []hostileCase) {
	parent := r.t
	defer func() { r.t = parent }()
	for _, c := range cases {
		parent.Run(c.name, func(t *testing.T) {
			r.t = t
			updates := r.sup.Count("trigger started", "trigger", "update")
			c.plant(r)
			if c.update != "" {
				daemon.Eventually(t, "the update trigger to run", func() bool {
					return r.sup.Count("trigger started", "trigger", "update") > updates
				})
			}
			r.sync()
			want := 0
			if c.update != "" {
				want = 1
			}
			if got := r.sup.Count("trigger started", "trigger", "update") - updates; got != want {
				t.Errorf("the update trigger ran %d times, want %d", got, want)
			}
			if c.update != "" && r.lastUpdate() != c.update {
				t.Errorf("the update run ended with %s, want %s", r.lastUpdate(), c.update)
			}
			r.runs = append(r.runs, c.runs...)
			slices.Sort(r.runs) // recorders running at once append in any order
			if got := slices.Sorted(slices.Values(triggerRuns(t, r.root))); !slices.Equal(got, r.runs) {
				t.Errorf("trigger runs %q, want %q", got, r.runs)
			}
			if c.check != nil {
				c.check(r)
			}
			r.clear()
			r.sup.Alive()
			if got := r.s.settled(t, r.root); got != "old" {
				t.Errorf("root holds the %s release", got)
			}
			r.out.Check(t)
		})
	}
}

// statusIsRegular checks that the engine replaced a planted status by a
// regular file saying the request failed, and why (want).
func statusIsRegular(want string) func(r *rig) {
	return func(r *rig) {
		r.t.Helper()
		fi, err := os.Lstat(r.path("statuses/" + statusfile.Name))
		if err != nil || !fi.Mode().IsRegular() {
			r.t.Errorf("status file: %v, %v; want a regular file", fi, err)
			return
		}
		st := readStatus(r.t, r.root)
		if st.State != statusfile.Failed || !strings.Contains(st.Description, want) {
			r.t.Errorf("status %+v, want failed saying %q", st, want)
		}
	}
}

// TestHostileStatusFile: everything the manager can put in statuses/
// before asking for an update: links to root-owned files outside the
// root, files that are not regular, and hostile contents. The engine
// refuses each (exit 4; exit 1 for a tag the repository lacks), never
// follows a link, never runs a value, and reports the refusal in a status
// file it replaces.
func TestHostileStatusFile(t *testing.T) {
	r := newRig(t)
	const rejected = "exit 4"
	planted := func(kind string, plant func(r *rig, p string) error) hostileCase {
		return hostileCase{name: "status file is " + kind, update: rejected, check: statusIsRegular("v1.0.0 is still installed"),
			plant: func(r *rig) {
				p := r.path("statuses/" + statusfile.Name)
				os.Remove(p)
				if err := plant(r, p); err != nil {
					r.t.Fatal(err)
				}
				writeSignal(r.t, r.root, "update")
			}}
	}
	cases := []hostileCase{
		planted("a symlink to a root-owned status outside", func(r *rig, p string) error { return os.Symlink(r.out.Path(outside.Secret), p) }),
		planted("a hard link to a root-owned status outside", func(r *rig, p string) error { return os.Link(r.out.Path(outside.Secret), p) }),
		planted("a fifo", func(r *rig, p string) error { return syscall.Mkfifo(p, 0o666) }),
		planted("a socket", func(r *rig, p string) error {
			ln, err := net.Listen("unix", p)
			if err == nil {
				r.t.Cleanup(func() { ln.Close() })
			}
			return err
		}),
		{name: "status file is a directory", update: rejected, plant: func(r *rig) {
			os.Remove(r.path("statuses/" + statusfile.Name))
			if err := os.Mkdir(r.path("statuses/"+statusfile.Name), 0o777); err != nil {
				r.t.Fatal(err)
			}
			writeSignal(r.t, r.root, "update")
		}},
		{name: "status file is 1 MB", update: rejected, check: statusIsRegular("too large"), plant: func(r *rig) {
			r.status(`{"state":"installing","progress":0,"description":"` + strings.Repeat("d", 1<<20) + `","updateTo":"v1.1.0"}`)
			writeSignal(r.t, r.root, "update")
		}},
		{name: "updateTo is 1 MB", update: rejected, check: statusIsRegular("v1.0.0 is still installed"), plant: func(r *rig) {
			r.requestTo("v1.1.0" + strings.Repeat("0", 1<<20))
		}},
		{name: "duplicate updateTo keys", update: rejected, check: statusIsRegular("not a release tag"), plant: func(r *rig) {
			r.status(`{"state":"installing","progress":0,"description":"","updateTo":"v1.1.0","updateTo":"../x"}`)
			writeSignal(r.t, r.root, "update")
		}},
		{name: "not JSON", update: rejected, check: statusIsRegular("v1.0.0 is still installed"), plant: func(r *rig) {
			r.status("\x00\xff{")
			writeSignal(r.t, r.root, "update")
		}},
		{name: "updateTo names a missing release", update: "exit 1", check: statusIsRegular("not found"), plant: func(r *rig) { r.requestTo("v9.9.9") }},
		{name: "updateTo is the installed release", update: rejected, check: statusIsRegular("already installed"), plant: func(r *rig) { r.requestTo("v1.0.0") }},
		{name: "updateTo is older", update: rejected, check: statusIsRegular("older"), plant: func(r *rig) { r.requestTo("v0.9.0") }},
	}
	for _, bad := range []string{
		"../x", "v1.1.0/../../x", "../../../../etc/passwd", "..", "/etc/passwd", ".app-v1.1.0",
		"$(touch pwned)", "`touch pwned`", "v1.1.0;touch pwned", "v1.1.0|touch pwned", "v1.1.0 && touch pwned",
		"v1.1.0\ntouch pwned", "$(touch ../outside/pwned)", "v1.1.0\x00", "v1.1.0 ", " v1.1.0", "V1.1.0",
		"v01.1.0", "v1.1", "v1.1.0-rc..1", "v1.1.0+build", "v99999999999999999999.0.0", "-v1.1.0", "--allow-downgrade",
		"v1.1.0 --allow-downgrade", "v\u0661.1.0", "ｖ1.1.0",
	} {
		cases = append(cases, hostileCase{name: fmt.Sprintf("updateTo %q", bad), update: rejected, check: statusIsRegular("v1.0.0 is still installed"),
			plant: func(r *rig) { r.requestTo(bad) }})
	}
	// recover sweeps temp files a crash left in statuses/: names the
	// manager may plant to look like them are unlinked, never followed,
	// and directories are left alone; a crowd of entries only costs time.
	cases = append(cases, hostileCase{name: "temp-file names planted in statuses/", update: "exit 1",
		check: func(r *rig) {
			if _, err := os.Stat(r.path("statuses/.hoist-tmp-dir/keep")); err != nil {
				r.t.Errorf("a planted directory was emptied: %v", err)
			}
		},
		plant: func(r *rig) {
			dir := r.path("statuses/")
			for name, mk := range map[string]func(p string) error{
				".hoist-tmp-link":     func(p string) error { return os.Symlink(r.out.Path(outside.Secret), p) },
				".hoist-tmp-dir-link": func(p string) error { return os.Symlink(r.out.Path(""), p) },
				".hoist-tmp-hard":     func(p string) error { return os.Link(r.out.Path(outside.Target), p) },
				".hoist-tmp-fifo":     func(p string) error { return syscall.Mkfifo(p, 0o666) },
				".hoist-tmp-dir": func(p string) error {
					if err := os.Mkdir(p, 0o777); err != nil {
						return err
					}
					return os.WriteFile(filepath.Join(p, "keep"), nil, 0o644)
				},
			} {
				if err := mk(filepath.Join(dir, name)); err != nil {
					r.t.Fatal(err)
				}
			}
			for i := range 20_000 {
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf(".hoist-tmp-crowd-%d", i)), nil, 0o644); err != nil {
					r.t.Fatal(err)
				}
			}
			r.requestTo("v9.9.9")
		}})
	cases = append(cases, hostileCase{name: "copies in statuses/ are symlinks outside", update: "exit 1",
		check: func(r *rig) {
			for _, name := range []string{"info.json", "last-failure.log"} {
				if fi, err := os.Lstat(r.path("statuses/" + name)); err == nil && !fi.Mode().IsRegular() {
					r.t.Errorf("statuses/%s is still a %v", name, fi.Mode().Type())
				}
			}
		},
		plant: func(r *rig) {
			for _, name := range []string{"info.json", "last-failure.log"} {
				if err := os.Symlink(r.out.Path(outside.Target), r.path("statuses/"+name)); err != nil {
					r.t.Fatal(err)
				}
			}
			r.requestTo("v9.9.9") // a failure writes both copies
		}})
	r.run(cases)
	r.sup.Stop()
}

// TestHostileSignals: everything the manager can put in events/signals/:
// names that are not signal names, and valid names that are not regular
// files (fifos, sockets, directories, symlinks to triggers or outside).
// None runs anything or is opened; a regular file runs its own trigger
// only, and app-X and repo-X run the generic trigger with X.
func TestHostileSignals(t *testing.T) {
	r := newRig(t)
	var cases []hostileCase
	for _, name := range []string{
		".update", "UPDATE", "update.sh", "up date", "-rf", "--help", "update\n", "update\\", "app-", "app-.x",
		"app--rf", "app-..", "%2e%2e", "ünï", strings.Repeat("a", 65), strings.Repeat(".", 255),
	} {
		cases = append(cases, hostileCase{name: fmt.Sprintf("name %q", name), plant: func(r *rig) { writeSignal(r.t, r.root, name) }})
	}
	entry := func(what, name string, mk func(r *rig, p string) error) hostileCase {
		return hostileCase{name: name + " is " + what, plant: func(r *rig) {
			if err := mk(r, r.path("events/signals/"+name)); err != nil {
				r.t.Fatal(err)
			}
		}}
	}
	cases = append(cases,
		entry("a fifo", "update", func(_ *rig, p string) error { return syscall.Mkfifo(p, 0o666) }),
		entry("a socket", "ping", func(r *rig, p string) error {
			ln, err := net.Listen("unix", p)
			if err == nil {
				r.t.Cleanup(func() { ln.Close() })
			}
			return err
		}),
		entry("a directory", "rollback", func(_ *rig, p string) error { return os.Mkdir(p, 0o777) }),
		entry("a symlink to its trigger", "update", func(_ *rig, p string) error { return os.Symlink("../../triggers/update", p) }),
		entry("a symlink to a file outside", "ping", func(r *rig, p string) error { return os.Symlink(r.out.Path(outside.Secret), p) }),
		entry("a symlink to a directory outside", "rollback", func(r *rig, p string) error { return os.Symlink(r.out.Path(""), p) }),
		entry("a dangling symlink", "update", func(_ *rig, p string) error { return os.Symlink("/nonexistent", p) }),
		// link(2) makes no close-write or moved-to event, only a creation
		// of a file with two links: a signal like any other (CONTRACT §6
		// says "created"). The link is removed and ping runs; the file
		// outside is neither opened nor changed.
		hostileCase{name: "ping is a hard link to a file outside", runs: []string{"ping "}, plant: func(r *rig) {
			if err := os.Link(r.out.Path(outside.Target), r.path("events/signals/ping")); err != nil {
				r.t.Fatal(err)
			}
		}},
		hostileCase{name: "app-ok and repo-x_y", runs: []string{"app ok", "repo x_y"}, plant: func(r *rig) {
			writeSignal(r.t, r.root, "app-ok")
			writeSignal(r.t, r.root, "repo-x_y")
		}},
		hostileCase{name: "a signal without a trigger", plant: func(r *rig) { writeSignal(r.t, r.root, "nothing-here") }},
	)
	r.run(cases)
	for _, kind := range []string{"fifo", "socket", "directory", "symlink"} {
		if r.sup.Count("refusing signal: not a regular file", "reason", kind) == 0 {
			t.Errorf("no %s was refused", kind)
		}
	}
	r.sup.Stop()
}

// TestSignalFlood writes 10,000 signals a second (as far as the machine
// allows) into events/signals/ for 2 seconds (10 with HOIST_TEST_LONG):
// a valid signal with a trigger (ping), valid names without one, and
// invalid names that stay on disk. The supervisor's memory stays bounded,
// the pings coalesce into fewer runs, nothing but ping runs, and the
// supervisor is alive and serving afterwards.
func TestSignalFlood(t *testing.T) {
	r := newRig(t)
	r.sync()
	rssBefore := r.sup.RSS()
	duration := time.Duration(iterations(2, 10)) * time.Second
	const perSecond, writers = 10_000, 4
	var pings, invalid, written atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range writers {
		wg.Go(func() {
			for i := 0; time.Since(start) < duration; i++ {
				n := i*writers + w
				name := "ping"
				switch (i + w) % 4 { // every writer writes every kind
				case 0, 1:
					pings.Add(1)
				case 2:
					name = fmt.Sprintf("nope-%d", n%5000) // valid, no trigger
				case 3:
					name = fmt.Sprintf(".flood-%d", n) // invalid: stays on disk
					invalid.Add(1)
				}
				// Opened for writing and closed: a complete signal.
				f, err := os.OpenFile(r.path("events/signals/"+name), os.O_WRONLY|os.O_CREATE, 0o644)
				if err != nil {
					t.Error(err)
					return
				}
				f.Close()
				written.Add(1)
				if ahead := time.Duration(n+1)*time.Second/perSecond - time.Since(start); ahead > 0 {
					time.Sleep(ahead)
				}
			}
		})
	}
	peak := rssBefore
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for sampling := true; sampling; {
		select {
		case <-done:
			sampling = false
		case <-time.After(100 * time.Millisecond):
			peak = max(peak, r.sup.RSS())
		}
	}
	rate := float64(written.Load()) / time.Since(start).Seconds()
	r.sync()
	peak = max(peak, r.sup.RSS())
	pingRuns := r.sup.Count("trigger started", "trigger", "ping")
	t.Logf("%d signals in %v (%.0f/s), %d of them ping: %d ping runs; supervisor RSS %d KiB before, %d KiB peak, %d KiB after",
		written.Load(), duration, rate, pings.Load(), pingRuns, rssBefore, peak, r.sup.RSS())
	if pingRuns == 0 || int64(pingRuns) > pings.Load()/2 {
		t.Errorf("%d runs for %d pings: not coalesced", pingRuns, pings.Load())
	}
	if peak > rssBefore+32<<10 {
		t.Errorf("supervisor RSS grew from %d KiB to %d KiB", rssBefore, peak)
	}
	for _, trig := range []string{"update", "rollback", "app"} {
		if n := r.sup.Count("trigger started", "trigger", trig); n > 0 {
			t.Errorf("%s ran %d times", trig, n)
		}
	}
	if invalid.Load() > 1024 && r.sup.Count("more than 1024 refused names in the signals directory; not logging further ones") != 1 {
		t.Error("refused names were not capped in the log")
	}
	for _, line := range triggerRuns(t, r.root) {
		if line != "ping " && line != "repo barrier" {
			t.Errorf("unexpected run: %q", line)
		}
	}
	r.clear()
	r.sup.Alive()
	if got := r.s.settled(t, r.root); got != "old" {
		t.Errorf("root holds the %s release", got)
	}
	r.out.Check(t)
	// Still serving.
	n := r.sup.Count("trigger started", "trigger", "ping")
	writeSignal(t, r.root, "ping")
	daemon.Eventually(t, "a ping after the flood", func() bool { return r.sup.Count("trigger started", "trigger", "ping") > n })
	r.sup.Stop()
}

// TestSignalsDirReplacedBySymlink replaces events/signals by a symlink to
// a directory of valid signals outside the root (as root: the manager
// cannot write events/). The running supervisor loses its watch but stays
// up, logs once that the directory is unusable and serves nothing through
// the symlink; a supervisor started on the symlink does the same. Neither
// opens anything outside the root or runs a trigger. Once root puts a real
// directory back, the running supervisor serves it without a restart.
func TestSignalsDirReplacedBySymlink(t *testing.T) {
	r := newRig(t)
	r.sync()
	signals := r.path("events/signals")
	if err := os.Rename(signals, signals+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(r.out.Path(outside.Signals), signals); err != nil {
		t.Fatal(err)
	}
	r.sup.WaitSignalsLost()
	r.sup.WaitLog(supervisorproc.SignalsUnusable, "error", "signals directory events/signals is a symlink")
	time.Sleep(2500 * time.Millisecond) // two more checks of the directory
	r.sup.Alive()
	// It may have been seen missing first, between the rename and the
	// symlink: each reason is logged once, not at every check.
	if n := r.sup.Count(supervisorproc.SignalsUnusable, "error", "is a symlink"); n != 1 {
		t.Errorf("symlinked signals directory logged %d times, want once", n)
	}
	r.out.Check(t)

	// A restart (by an admin; systemd has no reason to) does the same.
	r.sup.Stop()
	r.sup = startSupervisor(t, r.root)
	r.sup.WaitLog(supervisorproc.SignalsUnusable, "error", "signals directory events/signals is a symlink")
	r.out.Check(t)
	if runs := triggerRuns(t, r.root); !slices.Equal(runs, r.runs) {
		t.Errorf("triggers ran: %q", runs)
	}

	if err := os.Remove(signals); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(signals+".old", signals); err != nil {
		t.Fatal(err)
	}
	r.sync() // served by the same supervisor
	if got := r.s.settled(t, r.root); got != "old" {
		t.Errorf("root holds the %s release", got)
	}
	r.out.Check(t)
	r.sup.Stop()
}
