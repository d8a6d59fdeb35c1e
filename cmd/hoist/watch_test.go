package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"

	"golang.org/x/sys/unix"

	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/manager/managertest"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/syncbuf"
	"github.com/hoist-dev/hoist/internal/testutil/testbin"
)

// installing is a status of an update to v1.5.0 in progress.
func installing(progress int, description string) statusfile.Status {
	return statusfile.Status{State: statusfile.Installing, Progress: progress, Description: description, UpdateTo: "v1.5.0"}
}

// lines delivers r's lines, then closes.
func lines(r io.Reader) <-chan string {
	c := make(chan string)
	go func() {
		defer close(c)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			c <- sc.Text()
		}
	}()
	return c
}

// A real `hoist status --watch` whose stdout is a pipe, as under journald
// or in a log: one plain line per change, an unknown status while the
// status file is gone or invalid, then the result line. The test writes
// each status only after the line of the one before, so the lines are
// exact.
func TestStatusWatchPipe(t *testing.T) {
	root := managertest.NewRoot(t, "")
	statusPath := filepath.Join(root, "statuses", statusfile.Name)
	managertest.WriteStatus(t, root, installing(0, "Queued"))
	cmd := exec.Command(testbin.Path(t, "hoist"), "status", "--watch", "--root", root)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	out := lines(stdout)

	invalid := func() {
		tmp := statusPath + ".tmp"
		if err := os.WriteFile(tmp, []byte(`{"state":"bogus","progress":1,"description":"","updateTo":""}`), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, statusPath); err != nil {
			t.Fatal(err)
		}
	}
	write := func(st statusfile.Status) func() { return func() { managertest.WriteStatus(t, root, st) } }
	steps := []struct {
		change func()
		want   string
	}{
		{func() {}, "0% Queued"},
		{write(installing(35, "Checking the services can stop")), "35% Checking the services can stop"},
		// Neither progress nor description changes: no line; the next
		// line is the next change's.
		{write(statusfile.Status{State: statusfile.Installing, Progress: 35, Description: "Checking the services can stop"}), ""},
		{write(installing(60, "Installing files")), "60% Installing files"},
		{func() {
			if err := os.Remove(statusPath); err != nil {
				t.Fatal(err)
			}
		}, "status unknown: the status file was removed"},
		{write(installing(60, "Installing files")), "60% Installing files"},
		{invalid, `status unknown: invalid status file: unknown state "bogus"`},
		{write(installing(80, "Running 01-run.sh\x1b[2J")), "80% Running 01-run.sh [2J"},
		{write(statusfile.Status{State: statusfile.Success, Progress: 100, Description: "Updated to v1.5.0"}), "success: Updated to v1.5.0"},
	}
	for _, s := range steps {
		s.change()
		if s.want == "" {
			continue
		}
		select {
		case got, ok := <-out:
			if !ok || got != s.want {
				t.Fatalf("line %q (open %v), want %q; stderr %q", got, ok, s.want, errOut.String())
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no line %q; stderr %q", s.want, errOut.String())
		}
	}
	if extra, ok := <-out; ok {
		t.Errorf("extra line after the result: %q", extra)
	}
	if err := cmd.Wait(); err != nil || errOut.Len() != 0 {
		t.Errorf("exit %v, stderr %q", err, errOut.String())
	}
}

// A status file removed during an update is not its success: --watch says
// the status is unknown and keeps following the update to its real end.
func TestStatusWatchRemoved(t *testing.T) {
	root := managertest.NewRoot(t, "")
	managertest.WriteStatus(t, root, installing(40, "Installing files"))
	cmd := exec.Command(testbin.Path(t, "hoist"), "status", "--watch", "--root", root)
	var out, errOut syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			select {
			case err := <-exited:
				t.Fatalf("exited (%v) before %s; stdout %q", err, what, out.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s; stdout %q stderr %q", what, out.String(), errOut.String())
			}
		}
	}
	waitFor("output", func() bool { return out.String() != "" || errOut.String() != "" })
	if err := os.Remove(filepath.Join(root, "statuses", statusfile.Name)); err != nil {
		t.Fatal(err)
	}
	waitFor("unknown status", func() bool { return strings.Contains(out.String(), "status unknown: the status file was removed\n") })
	managertest.WriteStatus(t, root, statusfile.Status{State: statusfile.Failed, Progress: 40, Description: "02-run.sh exited 1"})
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		t.Fatal("still watching after the update failed")
	}
	if code := cmd.ProcessState.ExitCode(); code != exitcode.Failure || !strings.Contains(errOut.String(), "update failed: 02-run.sh exited 1") {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
}

// A missing status file when --watch starts is CONTRACT §3's success: no
// update is in progress.
func TestStatusWatchMissingAtStart(t *testing.T) {
	root := managertest.NewRoot(t, "")
	res := testbin.Run(t, nil, testbin.Path(t, "hoist"), "status", "--watch", "--root", root)
	if res.Code != exitcode.OK || res.Stdout != "success\n" || res.Stderr != "" {
		t.Errorf("status --watch without a status file: %s", res)
	}
}

// On a terminal the progress bar stays: frames redrawn in place on one line.
func TestStatusWatchTerminal(t *testing.T) {
	root := managertest.NewRoot(t, "")
	managertest.WriteStatus(t, root, installing(35, "Checking the services can stop"))
	master, tty := openPTY(t)
	cmd := exec.Command(testbin.Path(t, "hoist"), "status", "--watch", "--root", root)
	cmd.Stdout, cmd.Stderr = tty, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	tty.Close()
	chunks := make(chan []byte)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 4096)
			n, err := master.Read(buf) // EIO once the process is gone
			if n > 0 {
				chunks <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	var screen bytes.Buffer
	timeout := time.After(20 * time.Second)
	for !strings.Contains(screen.String(), "Checking the services can stop") {
		select {
		case c := <-chunks:
			screen.Write(c)
		case <-timeout:
			t.Fatalf("no progress bar: %q", screen.String())
		}
	}
	managertest.WriteStatus(t, root, statusfile.Status{State: statusfile.Success, Progress: 100, Description: "Updated to v1.5.0"})
	for c := range chunks {
		screen.Write(c)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	got := screen.String()
	for _, want := range []string{"\r", "v1.5.0 Checking the services can stop", "35% |", "success: Updated to v1.5.0"} {
		if !strings.Contains(got, want) {
			t.Errorf("terminal lacks %q:\n%q", want, got)
		}
	}
	if strings.Contains(got, "35% Checking") {
		t.Errorf("plain progress line on a terminal:\n%q", got)
	}
}

// openPTY opens a pseudo-terminal pair: the master and the terminal.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	if tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	return master, tty
}

// The bar's label never carries a control character the manager wrote into
// the status file, whatever its length.
func TestLabel(t *testing.T) {
	for _, d := range []string{
		"short \x1b]0;owned\x07 title",
		strings.Repeat("long ", 12) + "\x1b[2J",
	} {
		got := label(d)
		if strings.ContainsFunc(got, unicode.IsControl) || len([]rune(got)) != 48 {
			t.Errorf("label(%q) = %q", d, got)
		}
	}
}
