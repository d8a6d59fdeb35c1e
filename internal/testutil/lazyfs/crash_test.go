package lazyfs

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/safefs"
)

// replaceStep is one step of a file replace: it works on dir/f via dir/f.tmp.
type replaceStep struct {
	name string
	do   func(dir string, tmp **os.File) error
}

var (
	stepCreate = replaceStep{"create temp", func(dir string, tmp **os.File) (err error) {
		*tmp, err = os.OpenFile(filepath.Join(dir, "f.tmp"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		return err
	}}
	stepWrite = replaceStep{"write", func(_ string, tmp **os.File) error {
		_, err := (*tmp).WriteString("new")
		return err
	}}
	stepSync  = replaceStep{"fsync temp", func(_ string, tmp **os.File) error { return (*tmp).Sync() }}
	stepClose = replaceStep{"close", func(_ string, tmp **os.File) error { return (*tmp).Close() }}
	stepMove  = replaceStep{"rename", func(dir string, _ **os.File) error {
		return os.Rename(filepath.Join(dir, "f.tmp"), filepath.Join(dir, "f"))
	}}
	stepSyncDir = replaceStep{"fsync dir", func(dir string, _ **os.File) error {
		d, err := os.Open(dir)
		if err != nil {
			return err
		}
		defer d.Close()
		return d.Sync()
	}}
)

// cutAfterEachStep runs steps on a fresh directory holding f = "old" and
// cuts the power after each prefix of them; it returns f after each cut
// (index k: after the first k steps).
func cutAfterEachStep(t *testing.T, o Options, steps []replaceStep) []string {
	f, d := MountForTest(t, o)
	var got []string
	for k := 0; k <= len(steps); k++ {
		dir := filepath.Join(d, fmt.Sprint(k))
		mkdir(t, dir)
		syncDir(t, d)
		durable(t, dir, map[string]string{"f": "old"})
		var tmp *os.File
		for _, s := range steps[:k] {
			if err := s.do(dir, &tmp); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
		}
		cut(t, f)
		if tmp != nil {
			tmp.Close() // stale now; the error does not matter
		}
		b, err := os.ReadFile(filepath.Join(dir, "f"))
		if err != nil {
			t.Fatalf("after %d steps: %v", k, err)
		}
		got = append(got, string(b))
	}
	return got
}

// TestAtomicReplaceAtEveryCut: the classic replace (temp, write, fsync,
// close, rename, fsync dir) leaves old until the directory fsync, then new.
func TestAtomicReplaceAtEveryCut(t *testing.T) {
	steps := []replaceStep{stepCreate, stepWrite, stepSync, stepClose, stepMove, stepSyncDir}
	for _, o := range []Options{{}, {UnsyncedAsEmpty: true}} {
		t.Run(fmt.Sprintf("UnsyncedAsEmpty=%v", o.UnsyncedAsEmpty), func(t *testing.T) {
			got := cutAfterEachStep(t, o, steps)
			for k, content := range got {
				want := "old"
				if k == len(steps) {
					want = "new"
				}
				if content != want {
					t.Errorf("cut after %d steps: f = %q, want %q", k, content, want)
				}
			}
		})
	}
}

// TestReplaceWithoutFsyncIsCaught shows the file system catches the classic
// bug: without fsync of the temp file, a cut after the rename is durable
// leaves an empty file, neither old nor new.
func TestReplaceWithoutFsyncIsCaught(t *testing.T) {
	steps := []replaceStep{stepCreate, stepWrite, stepClose, stepMove, stepSyncDir}
	got := cutAfterEachStep(t, Options{}, steps)
	if last := got[len(got)-1]; last != "" {
		t.Errorf("replace without fsync, cut at the end: f = %q, want \"\" (lost content)", last)
	}
}

// TestSafefsWriteFileAtEveryCrashPoint crashes the disk after every change
// that safefs.WriteFile makes, in turn, and checks the file is old or new.
func TestSafefsWriteFileAtEveryCrashPoint(t *testing.T) {
	tests := []struct {
		opts Options
		step Step
	}{
		{Options{}, AnyChange},
		{Options{}, Sync},
		{Options{UnsyncedAsEmpty: true}, AnyChange},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("UnsyncedAsEmpty=%v,step=%d", tt.opts.UnsyncedAsEmpty, tt.step), func(t *testing.T) {
			f, d := MountForTest(t, tt.opts)
			seen := map[string]int{}
			for n := int64(0); ; n++ {
				if n > 100 {
					t.Fatal("WriteFile never completed")
				}
				dir := filepath.Join(d, fmt.Sprint(n))
				mkdir(t, dir)
				syncDir(t, d)
				durable(t, dir, map[string]string{"status.json": "old"})
				root, err := os.OpenRoot(dir)
				if err != nil {
					t.Fatal(err)
				}
				if err := f.CrashAfter(n, tt.step); err != nil {
					t.Fatal(err)
				}
				werr := safefs.WriteFile(root, "status.json", []byte("new"), 0o640)
				crashed := f.Stats().Crashed
				root.Close()
				cut(t, f)

				b, err := os.ReadFile(filepath.Join(dir, "status.json"))
				if err != nil || string(b) != "old" && string(b) != "new" {
					t.Fatalf("crash after %d: status.json = %q, %v; want old or new", n, b, err)
				}
				seen[string(b)]++
				if entries, _ := os.ReadDir(dir); len(entries) != 1 {
					t.Logf("crash after %d: leftover temp file (cleanup's job): %v", n, entries)
				}
				if !crashed {
					if werr != nil || string(b) != "new" {
						t.Fatalf("uncrashed WriteFile: %v, content %q", werr, b)
					}
					break
				}
			}
			if seen["old"] == 0 || seen["new"] < 2 {
				t.Errorf("outcomes %v: want old at early crashes, new at the last ones", seen)
			}
			t.Logf("crash points: %v", seen)
		})
	}
}

// TestExternalProcesses shows that other processes use the mount (append,
// exec, flock, cp, mv) and that their fsyncs (coreutils sync FILE) count.
// With one P, a child started in the mount by the serving process would
// hang: the server runs in a process of its own.
func TestExternalProcesses(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f, d := MountForTest(t, Options{})
	script := `set -e
echo synced > a
sync a
echo lost > b
mkdir sub
cp a sub/c
sync sub/c sub .
echo after > a
mv sub/c sub/d
echo x >> log
echo y >> log
test "$(cat log)" = "$(printf 'x\ny')"
printf '#!/bin/sh\necho ran\n' > run.sh
chmod +x run.sh
test "$(./run.sh)" = ran
flock lock true
`
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = d
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sh: %v\n%s", err, out)
	}
	cmd = exec.Command(filepath.Join(d, "run.sh"))
	cmd.Dir = d
	if out, err := cmd.CombinedOutput(); err != nil || string(out) != "ran\n" {
		t.Fatalf("run.sh from the mount: %q, %v", out, err)
	}
	cut(t, f)
	out, err := exec.Command("sh", "-c", "cd "+d+" && cat a sub/c && wc -c < b && ls sub").CombinedOutput()
	if err != nil {
		t.Fatalf("sh after cut: %v\n%s", err, out)
	}
	if got, want := strings.Fields(string(out)), []string{"synced", "synced", "0", "c"}; !slices.Equal(got, want) {
		t.Errorf("after cut: %q, want %q", got, want)
	}
}

// TestConcurrentRequestsAndCuts hammers the mount from several goroutines
// while cutting the power, and fails if anything hangs.
func TestConcurrentRequestsAndCuts(t *testing.T) {
	f, d := MountForTest(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				// Errors are expected around cuts (EIO, ESTALE, ENOENT).
				p := filepath.Join(d, fmt.Sprintf("w%d-%d", w, i%3))
				if fd, err := os.Create(p + ".tmp"); err == nil {
					fd.WriteString(strings.Repeat("x", i%5000))
					fd.Sync()
					fd.Close()
				}
				os.Rename(p+".tmp", p)
				os.ReadDir(d)
				os.ReadFile(p)
				os.Remove(p)
			}
		})
	}
	for range 10 {
		time.Sleep(30 * time.Millisecond)
		cut(t, f)
	}
	cancel()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("requests hang: deadlock")
	}
	cut(t, f)
	durable(t, d, map[string]string{"after": "ok"})
	cut(t, f)
	want := map[string]string{"after": "ok"}
	if got := tree(t, d); !maps.Equal(got, want) {
		t.Errorf("after the load: %q, want %q", got, want)
	}
}

// TestUnmountBusy: a file left open (a test failing midway) does not keep
// the mount point busy, and its user gets errors, not a hang.
func TestUnmountBusy(t *testing.T) {
	f, d := MountForTest(t, Options{})
	fd, err := os.Create(filepath.Join(d, "open"))
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	if err := f.Unmount(); err != nil {
		t.Fatal(err)
	}
	if isMounted(t, d) {
		t.Error("still mounted after Unmount")
	}
	if _, err := fd.Write([]byte("x")); err == nil {
		t.Error("write to the detached mount succeeded")
	}
}

// TestDaemonUnmountsWhenInputEnds: if the test process dies, the daemon's
// input ends and it unmounts.
func TestDaemonUnmountsWhenInputEnds(t *testing.T) {
	f, d := MountForTest(t, Options{})
	f.mu.Lock()
	f.in.Close() // what the death of this process does
	f.in = nil
	f.mu.Unlock()
	if err := f.wait(); err != nil {
		t.Fatal(err)
	}
	if isMounted(t, d) {
		t.Error("still mounted after the daemon's input ended")
	}
}

// TestUnmountCrashed: a test that stops with the disk crashed still unmounts.
func TestUnmountCrashed(t *testing.T) {
	f, d := MountForTest(t, Options{})
	if err := f.CrashAfter(0, AnyChange); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d, "x")); err == nil {
		t.Error("stat on a crashed disk succeeded")
	}
	if err := f.Unmount(); err != nil {
		t.Fatal(err)
	}
	if isMounted(t, d) {
		t.Error("still mounted after Unmount")
	}
}

func isMounted(t *testing.T, dir string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if fields := strings.Fields(line); len(fields) > 4 && fields[4] == dir {
			return true
		}
	}
	return false
}
