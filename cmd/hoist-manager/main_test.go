package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/manager/managertest"
	"github.com/hoist-dev/hoist/internal/testutil/daemon"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
	"github.com/hoist-dev/hoist/internal/testutil/testbin"
)

const testToken = "process-test-token-0123456789"

// process is a running hoist-manager.
type process struct {
	*daemon.Process
	url string
}

// startManager runs the real hoist-manager binary on a loopback port with
// args added, and stops it when the test ends.
func startManager(t testing.TB, root, releases string, args ...string) *process {
	t.Helper()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &process{Process: daemon.Start(t, testbin.Path(t, "hoist-manager"), append([]string{
		"--root", root, "--listen", "127.0.0.1:0", "--releases", releases,
		"--token-file", tokenFile, "--log-format", "json", "--check-interval", "0",
	}, args...), nil)}
	var entry struct{ Msg, Addr string }
	p.WaitLine("the listening address", func(line string) bool {
		return json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "listening"
	})
	p.url = "http://" + entry.Addr
	return p
}

func get(t testing.TB, method, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// The real binary against a real repository behind git http-backend.
func TestProcess(t *testing.T) {
	root := managertest.NewRoot(t, "0.9.0")
	p := startManager(t, root, releaserepo.New(t, managertest.WalkReleases()...).ServeHTTP(t))
	if code, _ := get(t, "GET", p.url+"/v1/system/get-update", ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d", code)
	}
	code, body := get(t, "GET", p.url+"/v1/system/get-update", testToken)
	if code != 200 || !strings.Contains(body, `"version":"1.5.0"`) || !strings.Contains(body, `"intermediate":true,"latest":"2.0.0"`) {
		t.Errorf("get-update: %d %s", code, body)
	}
	code, body = get(t, "POST", p.url+"/v1/system/update", testToken)
	if code != 200 || body != `{"message":"Updating to v1.5.0"}` {
		t.Errorf("update: %d %s", code, body)
	}
	if code, _ := get(t, "POST", p.url+"/v1/system/update", testToken); code != http.StatusConflict {
		t.Errorf("second update: %d", code)
	}
	code, body = get(t, "GET", p.url+"/v1/system/update-status", "")
	if code != 200 || body != `{"state":"installing","progress":0,"description":"Queued","updateTo":"v1.5.0"}` {
		t.Errorf("update-status: %d %s", code, body)
	}
	if _, err := os.Stat(filepath.Join(root, "events/signals/update")); err != nil {
		t.Error(err)
	}
	p.Stop() // which must end in exit status 0
	if strings.Contains(p.Log(), testToken) {
		t.Error("the token is in the log")
	}
}

func TestStartRefused(t *testing.T) {
	root := managertest.NewRoot(t, "1.0.0")
	emptyToken := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(emptyToken, []byte("\n"), 0o600)
	tests := []struct {
		name string
		args []string
		env  string
		code int
		msg  string
	}{
		{"no token", []string{"--releases", "file:///x"}, "", exitcode.Usage, "no API token: set --token-file or $HOIST_MANAGER_TOKEN"},
		{"empty token file", []string{"--releases", "file:///x", "--token-file", emptyToken}, "", exitcode.Usage, "no API token"},
		{"missing token file", []string{"--releases", "file:///x", "--token-file", "/nonexistent/token"}, "", exitcode.Failure, "token file"},
		{"no releases", nil, "HOIST_MANAGER_TOKEN=t", exitcode.Usage, "--releases is required"},
		{"bad template", []string{"--releases", "ftp://h/{ref}/info.json"}, "HOIST_MANAGER_TOKEN=t", exitcode.Usage, "want an http(s) URL containing {ref}"},
		{"bad log format", []string{"--releases", "file:///x", "--log-format", "xml"}, "HOIST_MANAGER_TOKEN=t", exitcode.Usage, "log format"},
		{"bad flag", []string{"--nope"}, "HOIST_MANAGER_TOKEN=t", exitcode.Usage, "flag provided but not defined"},
		{"stray argument", []string{"--releases", "file:///x", "extra"}, "HOIST_MANAGER_TOKEN=t", exitcode.Usage, "unexpected argument"},
		{"no statuses dir", []string{"--releases", "file:///x", "--root", t.TempDir()}, "HOIST_MANAGER_TOKEN=t", exitcode.Failure, "statuses"},
		{"port taken", []string{"--releases", "file:///x", "--listen", "127.0.0.1:-1"}, "HOIST_MANAGER_TOKEN=t", exitcode.Failure, "listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(testbin.Path(t, "hoist-manager"), append([]string{"--root", root}, tt.args...)...)
			cmd.Env = []string{"PATH=/usr/bin:/bin"}
			if tt.env != "" {
				cmd.Env = append(cmd.Env, tt.env)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := cmd.ProcessState.ExitCode()
			if code != tt.code || !strings.Contains(stderr.String(), tt.msg) {
				t.Errorf("exit %d (%v), stderr %q; want %d and %q", code, err, stderr.String(), tt.code, tt.msg)
			}
			if tt.code == exitcode.Usage && strings.Count(strings.TrimSpace(stderr.String()), "\n") > 0 && tt.name != "bad flag" {
				t.Errorf("error is not one line: %q", stderr.String())
			}
		})
	}
	cmd := exec.Command(testbin.Path(t, "hoist-manager"), "--help")
	if err := cmd.Run(); err != nil {
		t.Errorf("--help: %v", err)
	}
}

// TestReleasesToken reads a private repository that demands a token: with
// credentials in the --releases URL the manager answers 502 and shows them
// in no answer and no log line; with --releases-token-file it reads the
// releases, and the token stays out of its log.
func TestReleasesToken(t *testing.T) {
	const token = "ghp_ReleasesToken0123456789"
	root := managertest.NewRoot(t, "0.9.0")
	url := releaserepo.New(t, managertest.WalkReleases()...).ServeHTTPAuth(t, token)

	leaky := strings.Replace(url, "http://", "http://ghp_UserToken@", 1) + "?access_token=QuerySecret"
	p := startManager(t, root, leaky)
	var answers strings.Builder
	for _, path := range []string{"/v1/system/get-update", "/v1/system/update-status", "/metrics", "/healthz"} {
		code, body := get(t, "GET", p.url+path, testToken)
		fmt.Fprintf(&answers, "%s: %d %s\n", path, code, body)
	}
	if !strings.Contains(answers.String(), "/v1/system/get-update: 502") {
		t.Errorf("get-update from a private repository without a token:\n%s", answers.String())
	}
	p.Stop()
	for _, secret := range []string{"ghp_UserToken", "QuerySecret"} {
		if strings.Contains(answers.String(), secret) || strings.Contains(p.Log(), secret) {
			t.Errorf("%s shown:\n%s\nlog:\n%s", secret, answers.String(), p.Log())
		}
	}

	tokenFile := filepath.Join(t.TempDir(), "releases-token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p = startManager(t, root, url, "--releases-token-file", tokenFile)
	if code, body := get(t, "GET", p.url+"/v1/system/get-update", testToken); code != 200 || !strings.Contains(body, `"version":"1.5.0"`) {
		t.Errorf("get-update with --releases-token-file: %d %s", code, body)
	}
	p.Stop()
	if strings.Contains(p.Log(), token) {
		t.Errorf("the releases token is in the log:\n%s", p.Log())
	}
}

// TestRolledBackNotAutoUpdated runs the real engine and manager: rollback
// answers 409 until the engine has kept a backup; after a user's rollback
// from v1.1.0, --auto-update does not request v1.1.0 again, but requests
// the newer v1.2.0 once it is released.
func TestRolledBackNotAutoUpdated(t *testing.T) {
	rels := releaserepo.DefaultReleases()
	repo := releaserepo.New(t, rels[:2]...)
	root := filepath.Join(t.TempDir(), "app")
	uid, gid := strconv.Itoa(os.Getuid()), strconv.Itoa(os.Getgid())
	hoist := func(args ...string) {
		t.Helper()
		if r := testbin.Run(t, nil, testbin.Path(t, "hoist"), args...); r.Code != 0 {
			t.Fatalf("hoist %v: %s", args, r)
		}
	}
	hoist("init", root, "--repo", repo.FileURL(), "--pub", repo.PubFile, "--manager-uid", uid, "--manager-gid", gid)
	hoist("apply", "--to", "v1.0.0", "--root", root)

	p := startManager(t, root, repo.FileURL())
	if code, body := get(t, "POST", p.url+"/v1/system/rollback", testToken); code != http.StatusConflict || body != `{"error":"no backup to roll back to"}` {
		t.Errorf("rollback with no backup: %d %s", code, body)
	}
	p.Stop()
	hoist("apply", "--to", "v1.1.0", "--root", root)
	hoist("rollback", "--root", root)

	p = startManager(t, root, repo.FileURL(), "--auto-update", "--check-interval", "100ms", "--cache-ttl", "0")
	time.Sleep(time.Second) // ten automatic checks
	if _, err := os.Stat(filepath.Join(root, "events/signals/update")); err == nil {
		t.Fatalf("auto-update requested the release the user rolled back from\n%s", p.Log())
	}
	repo.Add(t, releaserepo.Release{Version: "1.2.0", Files: rels[1].Files})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if st := managertest.ReadStatus(t, root); st.UpdateTo == "v1.2.0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("auto-update did not request the newer v1.2.0\n%s", p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
