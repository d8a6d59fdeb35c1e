package raspi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/testutil/daemon"
	"github.com/hoist-dev/hoist/internal/testutil/supervisorproc"
	"github.com/hoist-dev/hoist/internal/testutil/testbin"
)

// target is an architecture of Raspberry Pi nodes.
type target struct {
	arch string // make's ARCH: the binaries are in bin/linux-ARCH/
	qemu string // Debian qemu-user-static's emulator for it
}

// smokeTargets are the architectures the smoke test runs: 64-bit Raspberry
// Pi OS and 32-bit Raspberry Pi OS on a Pi 2 or later.
func smokeTargets() []target {
	return []target{
		{"arm64", "qemu-aarch64-static"},
		{"armv7", "qemu-arm-static"},
	}
}

// emulated runs the binaries of one architecture under qemu-user. Nothing
// registers qemu with binfmt_misc, so the kernel cannot exec them directly.
type emulated struct {
	t    *testing.T
	qemu string // the emulator's path
	bin  string // the directory of hoist, hoist-supervisor and hoist-manager
}

// emulate returns tg's binaries ready to run, skipping the test only if
// qemu-user-static is not installed.
func emulate(t *testing.T, tg target) emulated {
	t.Helper()
	qemu, err := exec.LookPath(tg.qemu)
	if err != nil {
		t.Skipf("%s not found: install Debian's qemu-user-static (.ci/run does)", tg.qemu)
	}
	return emulated{t, qemu, testbin.CrossDir(t, tg.arch)}
}

// hoist runs the emulated `hoist args...`, fails the test unless it exits 0,
// and logs its peak RSS (qemu's own memory included).
func (e emulated) hoist(args ...string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testbin.ProcessTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.qemu, append([]string{filepath.Join(e.bin, "hoist")}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("hoist %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	e.t.Logf("hoist %s: peak RSS %.1f MiB under qemu", args[0], float64(ru.Maxrss)/1024)
}

// supervise starts the emulated supervisor on root. It puts its own
// directory first on its triggers' PATH, so there `hoist` is a script that
// runs the emulated hoist, as binfmt_misc would.
func (e emulated) supervise(root string) *supervisorproc.Process {
	e.t.Helper()
	dir := e.t.TempDir()
	sup, err := os.ReadFile(filepath.Join(e.bin, "hoist-supervisor"))
	if err != nil {
		e.t.Fatal(err)
	}
	testbin.WriteExecutable(e.t, filepath.Join(dir, "hoist-supervisor"), sup)
	testbin.WriteExecutable(e.t, filepath.Join(dir, "hoist"), e.script(filepath.Join(e.bin, "hoist")))
	launcher := filepath.Join(e.t.TempDir(), "supervisor")
	testbin.WriteExecutable(e.t, launcher, e.script(filepath.Join(dir, "hoist-supervisor")))
	return supervisorproc.Start(e.t, root, supervisorproc.Options{Bin: launcher})
}

// script is a shell script that execs binary under qemu with its arguments.
func (e emulated) script(binary string) []byte {
	return []byte("#!/bin/sh\nexec '" + e.qemu + "' '" + binary + "' \"$@\"\n")
}

// manage starts the emulated manager on root, reading releases, and returns
// its base URL; the token is managerToken.
func (e emulated) manage(root, releases string) string {
	e.t.Helper()
	tokenFile := filepath.Join(e.t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(managerToken+"\n"), 0o600); err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.Command(e.qemu, filepath.Join(e.bin, "hoist-manager"), "--root", root,
		"--listen", "127.0.0.1:0", "--releases", releases, "--token-file", tokenFile,
		"--log-format", "json", "--check-interval", "0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	var log bytes.Buffer // complete once done is closed
	addr, done := make(chan string, 1), make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			var entry struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &entry) == nil && entry.Msg == "listening" {
				addr <- entry.Addr
			}
		}
		cmd.Wait()
	}()
	e.t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(daemon.Timeout):
			cmd.Process.Kill()
			<-done
			e.t.Error("hoist-manager did not stop on SIGTERM")
		}
		if e.t.Failed() {
			e.t.Logf("hoist-manager log:\n%s", log.String())
		}
	})
	select {
	case a := <-addr:
		return "http://" + a
	case <-done:
		e.t.Fatal("hoist-manager exited before listening")
	case <-time.After(daemon.Timeout):
		e.t.Fatal("hoist-manager did not start listening")
	}
	return ""
}

const managerToken = "raspi-test-token-0123456789"

// call sends an authorized request and returns the status and body.
func call(t *testing.T, method, url string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+managerToken)
	resp, err := (&http.Client{Timeout: daemon.Timeout}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}
