package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dockerd is a Docker engine of the test's own: its data, state, socket and
// containerd namespace are under a private directory, so it runs beside any
// engine of the machine and leaves nothing behind.
type dockerd struct {
	dir  string // holds data/, exec/, docker.sock, dockerd.log
	host string // DOCKER_HOST value
	cmd  *exec.Cmd
	done chan error
}

// dockerStartTimeout bounds the wait for the engine's API.
const dockerStartTimeout = 60 * time.Second

// startDockerd starts a private engine and stops it when the test ends. It
// skips only where this machine cannot run one: no dockerd, not root, or the
// kernel refusing what dockerd needs (the engine's log says why).
func startDockerd(t *testing.T) *dockerd {
	t.Helper()
	bin := lookPathOrSkip(t, "dockerd")
	lookPathOrSkip(t, "docker")
	if os.Geteuid() != 0 {
		t.Skip("starting dockerd needs root")
	}
	var lastLog string
	// overlay2 first; vfs works on any filesystem (e.g. inside a container whose
	// own root is overlayfs), only slower.
	for _, driver := range []string{"overlay2", "vfs"} {
		d, err := launchDockerd(t, bin, driver)
		if err == nil {
			t.Cleanup(d.stop(t))
			return d
		}
		lastLog = err.Error()
		t.Logf("dockerd with storage driver %s: %v", driver, err)
	}
	if kernelForbids(lastLog) {
		t.Skipf("the kernel does not let dockerd run here: %s", lastLog)
	}
	t.Fatalf("dockerd did not start: %s", lastLog)
	return nil
}

func launchDockerd(t *testing.T, bin, driver string) (*dockerd, error) {
	// A short fixed-prefix path: the socket's path must fit in 108 bytes.
	dir, err := os.MkdirTemp("/tmp", "hoist-e2e-dockerd-")
	if err != nil {
		t.Fatal(err)
	}
	d := &dockerd{dir: dir, host: "unix://" + filepath.Join(dir, "docker.sock"), done: make(chan error, 1)}
	logFile, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	name := filepath.Base(dir)
	d.cmd = exec.Command(bin,
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"--host", d.host,
		"--storage-driver", driver,
		// No bridge and no iptables: nothing of the machine's network
		// changes; containers use the host's network.
		"--bridge", "none", "--iptables=false", "--ip-masq=false",
		"--containerd-namespace", name, "--containerd-plugins-namespace", name+"-plugins",
		// cgroupfs: no dependency on a running systemd.
		"--exec-opt", "native.cgroupdriver=cgroupfs",
	)
	d.cmd.Stdout, d.cmd.Stderr = logFile, logFile
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := d.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	go func() { d.done <- d.cmd.Wait() }()
	if err := d.waitReady(); err != nil {
		d.kill()
		log := d.logTail(6)
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w; dockerd log:\n%s", err, log)
	}
	return d, nil
}

// waitReady polls the engine's /_ping until it answers or dockerd exits.
func (d *dockerd) waitReady() error {
	sock := strings.TrimPrefix(d.host, "unix://")
	client := &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}},
	}
	deadline := time.Now().Add(dockerStartTimeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-d.done:
			d.done <- err
			return fmt.Errorf("dockerd exited: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
		resp, err := client.Get("http://docker/_ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("no answer on %s within %v", d.host, dockerStartTimeout)
}

// stop removes every container, stops the engine (SIGTERM, then SIGKILL to
// its process group) and deletes its directory.
func (d *dockerd) stop(t *testing.T) func() {
	return func() {
		if out, err := d.docker(context.Background(), "ps", "-aq"); err == nil && strings.TrimSpace(out) != "" {
			args := append([]string{"rm", "-f"}, strings.Fields(out)...)
			if out, err := d.docker(context.Background(), args...); err != nil {
				t.Logf("docker rm: %v\n%s", err, out)
			}
		}
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(30 * time.Second):
			t.Logf("dockerd did not stop on SIGTERM within 30s; killing it")
			d.kill()
		}
		// dockerd leaves its network namespace (and, if killed, more) mounted.
		if err := unmountUnder(d.dir); err != nil {
			t.Logf("unmount under %s: %v", d.dir, err)
		}
		// containerd's shims may still be going away: retry briefly.
		var err error
		for range 20 {
			if err = os.RemoveAll(d.dir); err == nil {
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
		t.Logf("removing %s: %v", d.dir, err)
	}
}

// unmountUnder detaches every mount point below dir, deepest first.
func unmountUnder(dir string) error {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		// Field 5 is the mount point, with spaces and such octal-escaped.
		if p := unescapeMountinfo(fields[4]); strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	var errs []error
	for i := len(points) - 1; i >= 0; i-- {
		if err := syscall.Unmount(points[i], syscall.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", points[i], err))
		}
	}
	return errors.Join(errs...)
}

func unescapeMountinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (d *dockerd) kill() {
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	<-d.done
	d.done <- errors.New("killed")
}

func (d *dockerd) logTail(n int) string {
	data, _ := os.ReadFile(filepath.Join(d.dir, "dockerd.log"))
	return lastLines(data, n)
}

// env returns the environment for programs that use this engine.
func (d *dockerd) env() []string {
	return append(os.Environ(), "DOCKER_HOST="+d.host)
}

// docker runs the docker CLI against this engine and returns its output.
func (d *dockerd) docker(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = d.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, lastLines(out, 5))
	}
	return string(out), nil
}

// kernelForbids tells a machine that cannot run containers (no privileges,
// no cgroups or namespaces) from a bug of ours, by dockerd's fatal lines.
func kernelForbids(log string) bool {
	for _, line := range strings.Split(strings.ToLower(log), "\n") {
		if !strings.Contains(line, "level=fatal") && !strings.Contains(line, "failed to start daemon") {
			continue
		}
		for _, s := range []string{"operation not permitted", "permission denied", "cgroup", "namespace", "not supported", "seccomp"} {
			if strings.Contains(line, s) {
				return true
			}
		}
	}
	return false
}
