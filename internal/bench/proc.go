package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Usage is what a process tree holds and has used, summed over its
// processes and their threads.
type Usage struct {
	Procs    int           // processes counted
	RSS      int64         // resident memory (VmRSS), bytes
	CPU      time.Duration // time on a CPU (schedstat), all threads
	Switches int64         // voluntary + involuntary context switches: wakeups
}

// Sub returns the CPU time and switches used since before; RSS and Procs
// are u's.
func (u Usage) Sub(before Usage) Usage {
	return Usage{Procs: u.Procs, RSS: u.RSS, CPU: u.CPU - before.CPU, Switches: u.Switches - before.Switches}
}

// TreeUsage reads the usage of pid and all its descendants from procDir
// (normally /proc). Processes and threads that exit while it reads are
// left out.
func TreeUsage(procDir string, pid int) (Usage, error) {
	pids, err := Descendants(procDir, pid)
	if err != nil {
		return Usage{}, err
	}
	var total Usage
	for _, p := range append([]int{pid}, pids...) {
		u, err := processUsage(filepath.Join(procDir, strconv.Itoa(p)))
		if errors.Is(err, fs.ErrNotExist) && p != pid {
			continue
		}
		if err != nil {
			return Usage{}, fmt.Errorf("process %d: %w", p, err)
		}
		total.Procs++
		total.RSS += u.RSS
		total.CPU += u.CPU
		total.Switches += u.Switches
	}
	return total, nil
}

// Descendants returns the pids of pid's children, their children, and so on.
func Descendants(procDir string, pid int) ([]int, error) {
	entries, err := os.ReadDir(procDir)
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(procDir, e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		if ppid, err := parentOf(data); err == nil {
			children[ppid] = append(children[ppid], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		kids := children[queue[0]]
		queue = append(queue[1:], kids...)
		out = append(out, kids...)
	}
	return out, nil
}

// parentOf returns the ppid field of a /proc/PID/stat line. The command
// name before it is in parentheses and may itself hold spaces and ")".
func parentOf(stat []byte) (int, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("stat: no command name")
	}
	f := bytes.Fields(stat[i+1:]) // state, ppid, …
	if len(f) < 2 {
		return 0, errors.New("stat: too short")
	}
	return strconv.Atoi(string(f[1]))
}

// processUsage reads one process directory: VmRSS from status, and CPU
// time and switches summed over task/*.
func processUsage(dir string) (Usage, error) {
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return Usage{}, err
	}
	fields := statusFields(status)
	u := Usage{RSS: fields["VmRSS"] * 1024} // kB
	tasks, err := os.ReadDir(filepath.Join(dir, "task"))
	if err != nil {
		return Usage{}, err
	}
	for _, t := range tasks {
		tdir := filepath.Join(dir, "task", t.Name())
		status, err := os.ReadFile(filepath.Join(tdir, "status"))
		if err != nil {
			continue // thread exited
		}
		f := statusFields(status)
		u.Switches += f["voluntary_ctxt_switches"] + f["nonvoluntary_ctxt_switches"]
		sched, err := os.ReadFile(filepath.Join(tdir, "schedstat"))
		if err != nil {
			continue
		}
		ns, err := firstInt(sched)
		if err != nil {
			return Usage{}, fmt.Errorf("%s/schedstat: %w", tdir, err)
		}
		u.CPU += time.Duration(ns)
	}
	return u, nil
}

// statusFields returns the numeric fields of a /proc status file, units
// dropped ("VmRSS:  1632 kB" gives VmRSS 1632).
func statusFields(data []byte) map[string]int64 {
	out := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, value, ok := bytes.Cut(sc.Bytes(), []byte{':'})
		if !ok {
			continue
		}
		if n, err := firstInt(value); err == nil {
			out[string(key)] = n
		}
	}
	return out
}

func firstInt(data []byte) (int64, error) {
	f := bytes.Fields(data)
	if len(f) == 0 {
		return 0, errors.New("empty")
	}
	return strconv.ParseInt(string(f[0]), 10, 64)
}
