package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// writeProc makes a fake /proc entry for pid with one thread per element of
// threads (voluntary, involuntary switches, CPU ns).
func writeProc(t *testing.T, proc string, pid, ppid int, comm string, rssKB int, threads [][3]int) {
	t.Helper()
	dir := filepath.Join(proc, itoa(pid))
	write := func(name, content string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("stat", itoa(pid)+" ("+comm+") S "+itoa(ppid)+" 1 1 0 -1 4194560 0 0 0 0\n")
	write("status", "Name:\tx\nVmHWM:\t  9999 kB\nVmRSS:\t  "+itoa(rssKB)+" kB\nThreads:\t"+itoa(len(threads))+"\n")
	for i, th := range threads {
		task := filepath.Join("task", itoa(pid+i))
		write(filepath.Join(task, "status"), "Name:\tx\nvoluntary_ctxt_switches:\t"+itoa(th[0])+"\nnonvoluntary_ctxt_switches:\t"+itoa(th[1])+"\n")
		write(filepath.Join(task, "schedstat"), itoa(th[2])+" 500 7\n")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestTreeUsageFake(t *testing.T) {
	proc := t.TempDir()
	writeProc(t, proc, 100, 1, "bash", 3000, [][3]int{{5, 1, 1000}})
	writeProc(t, proc, 200, 100, "inotify) wait", 1000, [][3]int{{2, 0, 50}}) // ")" in comm
	writeProc(t, proc, 300, 200, "sh", 500, [][3]int{{1, 1, 10}, {4, 0, 20}})
	writeProc(t, proc, 400, 1, "other", 7000, [][3]int{{100, 100, 1e9}})
	if err := os.Mkdir(filepath.Join(proc, "self"), 0o755); err != nil { // non-numeric: skipped
		t.Fatal(err)
	}
	kids, err := Descendants(proc, 100)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Sort(kids); !slices.Equal(kids, []int{200, 300}) {
		t.Errorf("Descendants = %v, want [200 300]", kids)
	}
	u, err := TreeUsage(proc, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := Usage{Procs: 3, RSS: 4500 * 1024, CPU: 1080, Switches: 14}
	if u != want {
		t.Errorf("TreeUsage = %+v, want %+v", u, want)
	}
	if d := u.Sub(Usage{CPU: 80, Switches: 4}); d.CPU != 1000 || d.Switches != 10 || d.RSS != want.RSS {
		t.Errorf("Sub = %+v", d)
	}
	if _, err := TreeUsage(proc, 999); err == nil {
		t.Error("TreeUsage of a missing process: no error")
	}
}

// TestTreeUsageReal checks the parsing against the real /proc: a child
// that sleeps is found, and the test process itself has used CPU.
func TestTreeUsageReal(t *testing.T) {
	if _, err := os.Stat("/proc/self/task"); err != nil {
		t.Skip("no /proc")
	}
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep:", err)
	}
	defer cmd.Process.Kill()
	time.Sleep(20 * time.Millisecond)
	u, err := TreeUsage("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if u.Procs < 2 || u.RSS < 1<<20 || u.CPU <= 0 || u.Switches <= 0 {
		t.Errorf("TreeUsage(self) = %+v: want ≥ 2 processes, ≥ 1 MiB, some CPU and switches", u)
	}
}
