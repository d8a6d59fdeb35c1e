package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/daemon"
	"github.com/hoist-dev/hoist/internal/testutil/testbin"
)

// managerUID is the unprivileged user the manager image runs as.
const managerUID = 1000

// TestDockerDeployment is the whole system on a real Docker engine: the
// manager image (built from the Dockerfile, mounts as in compose.yaml, uid
// 1000) requests updates over its HTTP API, the supervisor on the host
// applies them, and the sample stack's two FROM scratch services show which
// release really runs.
//
//	v1.0.0 installed → POST update → services answer 2.0.0
//	POST rollback → services answer 1.0.0
//	v3.0.0 (health check fails) → POST update → rolled back: 1.0.0 again, status says why
func TestDockerDeployment(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no Docker end-to-end test")
	}
	d := startDockerd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	bin := testbin.Dir(t)
	hoist := filepath.Join(bin, "hoist")
	tmp := t.TempDir()

	image := "hoist-manager:e2e"
	buildStart := time.Now()
	run(t, append(d.env(), "HOIST_BIN="+bin), filepath.Join(repoRoot(t), "deploy", "build-image.sh"), image)
	size, err := d.docker(ctx, "image", "inspect", "-f", "{{.Size}}", image)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("manager image %s: %s bytes, built in %v", image, strings.TrimSpace(size), time.Since(buildStart).Round(time.Millisecond))

	// Releases of the sample stack, served over HTTP like a real remote.
	rel := newReleaseRepo(t, hoist)
	stack := newStackReleases(t, tmp)
	rel.publish(t, "v1.0.0", stack.sources(t, "1.0.0", false)...)
	rel.publish(t, "v2.0.0", stack.sources(t, "2.0.0", false)...)

	// The node: an app root with v1.0.0 installed and running.
	root := filepath.Join(tmp, "app")
	run(t, nil, hoist, "init", root, "--repo", rel.url, "--pub", rel.pub)
	ports := stackPorts{web: freePort(t), api: freePort(t)}
	writeStackEnv(t, root, d, ports)
	run(t, nil, hoist, "apply", "--root", root, "--to", "v1.0.0")
	waitStack(ctx, t, ports, "1.0.0")

	// Stopped with SIGTERM at the end, as systemd would; its log is printed
	// if the test failed.
	daemon.Start(t, filepath.Join(bin, "hoist-supervisor"), []string{"--root", root},
		[]string{"PATH=" + bin + ":" + os.Getenv("PATH")})
	m := startManager(ctx, t, d, image, root, rel.url)
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := d.docker(context.Background(), "logs", "--tail", "40", "hoist-manager")
			t.Logf("manager log:\n%s", logs)
			failure, _ := os.ReadFile(filepath.Join(root, ".hoist", "logs", "last-failure.log"))
			t.Logf("last-failure.log:\n%s", failure)
		}
	})

	if code, _ := m.do(ctx, "POST", "/v1/system/update", false); code != http.StatusUnauthorized {
		t.Errorf("POST /v1/system/update without token: %d, want 401", code)
	}

	// Update: POST → both services answer 2.0.0.
	start := time.Now()
	m.mustDo(ctx, t, "POST", "/v1/system/update", http.StatusOK, "Updating to v2.0.0")
	waitStack(ctx, t, ports, "2.0.0")
	t.Logf("POST /v1/system/update → services answer 2.0.0: %v", time.Since(start).Round(time.Millisecond))
	waitEngineIdle(ctx, t, root)
	m.waitState(ctx, t, statusfile.Success)
	m.mustDo(ctx, t, "GET", "/v1/system/info", http.StatusOK, `"2.0.0"`)

	// Rollback through the API puts v1.0.0 and its services back.
	m.mustDo(ctx, t, "POST", "/v1/system/rollback", http.StatusAccepted, "")
	waitStack(ctx, t, ports, "1.0.0")
	waitEngineIdle(ctx, t, root)
	m.waitState(ctx, t, statusfile.Success)
	m.mustDo(ctx, t, "GET", "/v1/system/info", http.StatusOK, `"1.0.0"`)

	// A release whose health check fails is undone: v1.0.0 answers again.
	rel.publish(t, "v3.0.0", stack.sources(t, "3.0.0", true)...)
	m.mustDo(ctx, t, "POST", "/v1/system/update", http.StatusOK, "Updating to v3.0.0")
	st := m.waitState(ctx, t, statusfile.Failed)
	waitStack(ctx, t, ports, "1.0.0")
	waitEngineIdle(ctx, t, root)
	t.Logf("v3.0.0 rolled back, status: %q", st.Description)
	if !strings.Contains(st.Description, "02-run.sh") {
		t.Errorf("failed status description %q does not name the failed health check 02-run.sh", st.Description)
	}
	m.mustDo(ctx, t, "GET", "/v1/system/update-log", http.StatusOK, "health check failed")
	m.mustDo(ctx, t, "GET", "/v1/system/info", http.StatusOK, `"1.0.0"`)
	if out, err := exec.Command(hoist, "verify", "--root", root).CombinedOutput(); err != nil {
		t.Errorf("hoist verify after the rollback: %v\n%s", err, out)
	}
}

// stackReleases makes the sources of the sample stack's releases: the
// template in testdata/stack/release, the static server built once, and a
// per-version info.json.
type stackReleases struct {
	template, server, dir string
}

func newStackReleases(t *testing.T, tmp string) *stackReleases {
	t.Helper()
	s := &stackReleases{
		template: filepath.Join(repoRoot(t), "testdata", "stack", "release"),
		server:   filepath.Join(tmp, "stack-server"),
		dir:      tmp,
	}
	// The server goes into each release as stack/stack-server.
	out := filepath.Join(s.server, "stack", "stack-server")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./testdata/stack/server")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build stack server: %v\n%s", err, b)
	}
	return s
}

// sources returns the directories release version is made of; a broken
// release starts its services with -unhealthy, so 02-run.sh fails.
func (s *stackReleases) sources(t *testing.T, version string, broken bool) []string {
	t.Helper()
	dir := filepath.Join(s.dir, "v"+version)
	files := map[string]string{
		"info.json": fmt.Sprintf(`{"version":%q,"app":"sample-stack","name":"sample stack","notes":"two services answering %s","requires":">=1.0.0"}`+"\n", version, version),
	}
	if broken {
		files["stack/args"] = "-unhealthy\n"
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return []string{s.template, s.server, dir}
}

type stackPorts struct{ web, api int }

// writeStackEnv writes the node's settings for the stack's scripts into
// data/, which updates never touch.
func writeStackEnv(t *testing.T, root string, d *dockerd, p stackPorts) {
	t.Helper()
	env := fmt.Sprintf("DOCKER_HOST=%s\nWEB_PORT=%d\nAPI_PORT=%d\nHEALTH_TIMEOUT=8\n", d.host, p.web, p.api)
	if err := os.MkdirAll(filepath.Join(root, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "data", "stack.env"), []byte(env), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitStack waits until both services answer version.
func waitStack(ctx context.Context, t *testing.T, p stackPorts, version string) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	var last string
	answers := func() bool {
		for _, port := range []int{p.web, p.api} {
			var got struct{ Service, Version string }
			resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
			if err != nil {
				last = err.Error()
				return false
			}
			err = json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&got)
			resp.Body.Close()
			if err != nil || got.Version != version {
				last = fmt.Sprintf("port %d: %+v %v", port, got, err)
				return false
			}
		}
		return true
	}
	if !waitFor(ctx, answers) {
		t.Fatalf("services never answered %s; last: %s", version, last)
	}
}

// waitEngineIdle waits until no engine holds ROOT/.hoist/lock, probing the
// flock without writing anything: a request made while the previous run is
// still finishing would be refused as "in progress".
func waitEngineIdle(ctx context.Context, t *testing.T, root string) {
	t.Helper()
	f, err := os.Open(filepath.Join(root, ".hoist", "lock"))
	if err != nil {
		t.Fatalf("engine lock: %v", err)
	}
	defer f.Close()
	free := func() bool {
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			return false
		}
		return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) == nil
	}
	if !waitFor(ctx, free) {
		t.Fatal("the engine never released .hoist/lock")
	}
}

// manager is the manager container, reached on the host network.
type manager struct {
	base, token string
	client      *http.Client
}

// startManager runs the manager image as uid 1000 with exactly the mounts
// of compose.yaml and the token as a secret file.
func startManager(ctx context.Context, t *testing.T, d *dockerd, image, root, releases string) *manager {
	t.Helper()
	m := &manager{
		base:   fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
		token:  randomToken(t),
		client: &http.Client{Timeout: 10 * time.Second},
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(m.token+"\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(tokenFile, managerUID, managerUID); err != nil {
		t.Fatal(err)
	}
	mounts, err := composeMounts(filepath.Join(repoRoot(t), "compose.yaml"), root)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "-d", "--name", "hoist-manager", "--network", "host",
		"--user", fmt.Sprintf("%d:%d", managerUID, managerUID), "--read-only", "--cap-drop", "ALL",
		"--security-opt", "no-new-privileges:true",
		"--mount", "type=bind,source=" + tokenFile + ",target=/run/secrets/hoist_token,readonly"}
	for _, mt := range mounts {
		spec := "type=bind,source=" + mt.Source + ",target=" + mt.Target
		if mt.ReadOnly {
			spec += ",readonly"
		}
		args = append(args, "--mount", spec)
	}
	args = append(args, image,
		"--listen", strings.TrimPrefix(m.base, "http://"),
		"--token-file", "/run/secrets/hoist_token",
		"--releases", releases,
		"--check-interval", "0",
		"--cache-ttl", "0") // v3.0.0 is published during the test
	if _, err := d.docker(ctx, args...); err != nil {
		t.Fatal(err)
	}
	// Removed before the test's temp dirs are: the manager writes into the
	// root's statuses/ (its notification outbox) until it stops.
	t.Cleanup(func() { d.docker(context.Background(), "rm", "-f", "hoist-manager") })
	healthy := func() bool {
		code, _ := m.do(ctx, "GET", "/healthz", false)
		return code == http.StatusOK
	}
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if !waitFor(waitCtx, healthy) {
		logs, _ := d.docker(ctx, "logs", "hoist-manager")
		t.Fatalf("manager container never answered /healthz:\n%s", logs)
	}
	return m
}

// do sends a request (with the token if auth) and returns status and body.
func (m *manager) do(ctx context.Context, method, path string, auth bool) (int, string) {
	req, err := http.NewRequestWithContext(ctx, method, m.base+path, nil)
	if err != nil {
		return 0, err.Error()
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+m.token)
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(body)
}

// mustDo sends an authorised request and checks its status and body.
func (m *manager) mustDo(ctx context.Context, t *testing.T, method, path string, want int, contains string) {
	t.Helper()
	code, body := m.do(ctx, method, path, true)
	if code != want || !strings.Contains(body, contains) {
		t.Fatalf("%s %s: %d %s, want %d with %q", method, path, code, body, want, contains)
	}
}

// waitState polls the public status until its state is want.
func (m *manager) waitState(ctx context.Context, t *testing.T, want statusfile.State) statusfile.Status {
	t.Helper()
	var st statusfile.Status
	var last string
	reached := func() bool {
		code, body := m.do(ctx, "GET", "/v1/system/update-status", false)
		last = fmt.Sprint(code, " ", body)
		if code != http.StatusOK {
			return false
		}
		s, err := statusfile.Parse([]byte(body))
		if err != nil {
			return false
		}
		st = s
		if s.State != statusfile.Installing && s.State != want {
			t.Fatalf("status reached %+v, want state %s", s, want)
		}
		return s.State == want
	}
	if !waitFor(ctx, reached) {
		t.Fatalf("status never reached %s; last: %s", want, last)
	}
	return st
}

func randomToken(t *testing.T) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
