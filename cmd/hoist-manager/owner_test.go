package main

import (
	"context"
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
	"github.com/hoist-dev/hoist/internal/settings"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
	"github.com/hoist-dev/hoist/internal/testutil/testbin"
)

// runPasswd runs `hoist-manager passwd` with stdin and returns its exit code.
func runPasswd(t *testing.T, root, stdin string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testbin.ProcessTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, testbin.Path(t, "hoist-manager"), "passwd", "--root", root)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("passwd: %v", err)
	}
	if strings.Contains(string(out), strings.TrimSpace(stdin)) {
		t.Errorf("passwd repeats the password: %s", out)
	}
	return cmd.ProcessState.ExitCode()
}

// The real binaries: the owner sets a password on the host, signs in on
// the manager and uses its cookie; the hash never leaves the file.
func TestProcessSignIn(t *testing.T) {
	root := managertest.NewRoot(t, "0.9.0")
	if code := runPasswd(t, root, "short\n"); code != exitcode.Usage {
		t.Errorf("short password: exit %d", code)
	}
	const password = "correct horse battery staple"
	if code := runPasswd(t, root, password+"\n"); code != 0 {
		t.Fatalf("passwd: exit %d", code)
	}
	data, err := os.ReadFile(filepath.Join(root, "statuses/account.json"))
	if err != nil || !strings.Contains(string(data), `"$argon2id$v=19$m=65536,t=3,p=2$`) {
		t.Fatalf("account.json: %s %v", data, err)
	}
	p := startManager(t, root, releaserepo.New(t, managertest.WalkReleases()...).FileURL())
	start := time.Now()
	resp, err := http.Post(p.url+"/v1/account/login", "application/json", strings.NewReader(`{"password":"`+password+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	t.Logf("a sign-in with the default argon2id parameters took %v", time.Since(start))
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "hoist_session" {
			session = c
		}
	}
	if resp.StatusCode != http.StatusNoContent || session == nil {
		t.Fatalf("login: %d %v", resp.StatusCode, resp.Cookies())
	}
	req, _ := http.NewRequest("GET", p.url+"/v1/system/get-update", nil)
	req.AddCookie(session)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("get-update with the cookie: %d", resp.StatusCode)
	}
	p.Stop()
	if salt := strings.Split(string(data), "$")[4]; strings.Contains(p.Log(), salt) || strings.Contains(p.Log(), password) {
		t.Error("the log shows the hash or the password")
	}
}

// With a short check interval, the real manager requests the update only
// once the owner's window includes the present.
func TestProcessAutoUpdateWindow(t *testing.T) {
	root := managertest.NewRoot(t, "0.9.0")
	now := time.Now()
	outside := now.Add(time.Hour).Format("15:04") + "-" + now.Add(2*time.Hour).Format("15:04")
	file := filepath.Join(root, "statuses", settings.Name)
	if err := os.WriteFile(file, []byte(`{"auto_update":true,"window":"`+outside+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startManager(t, root, releaserepo.New(t, managertest.WalkReleases()...).FileURL(), "--check-interval", "100ms", "--cache-ttl", "0")
	signal := filepath.Join(root, "events/signals/update")
	time.Sleep(time.Second) // ten automatic checks
	if _, err := os.Stat(signal); err == nil {
		t.Fatalf("an automatic update outside the window %s\n%s", outside, p.Log())
	}
	inside := now.Add(-time.Minute).Format("15:04") + "-" + now.Add(time.Hour).Format("15:04")
	req, _ := http.NewRequest("PUT", p.url+"/v1/system/settings", strings.NewReader(`{"window":"`+inside+`"}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT settings: %d", resp.StatusCode)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st := managertest.ReadStatus(t, root); st.UpdateTo == "v1.5.0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no automatic update inside the window %s\n%s", inside, p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The beta channel end to end with the real engine: a stable node does not
// see v1.1.0-beta.1; switched to beta it gets and installs it; switched
// back to stable it is not downgraded.
func TestProcessBetaChannel(t *testing.T) {
	repo := releaserepo.New(t,
		releaserepo.Release{Version: "1.0.0", Files: map[string]releaserepo.File{"app/a.txt": {Content: "stable\n"}}},
		releaserepo.Release{Version: "1.1.0-beta.1", Files: map[string]releaserepo.File{"app/a.txt": {Content: "beta\n"}}})
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
	p := startManager(t, root, repo.FileURL(), "--cache-ttl", "0")
	channel := func(name string) {
		t.Helper()
		req, _ := http.NewRequest("PUT", p.url+"/v1/system/settings", strings.NewReader(`{"channel":"`+name+`"}`))
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("PUT channel %s: %d", name, resp.StatusCode)
		}
	}
	if code, body := get(t, "GET", p.url+"/v1/system/get-update", testToken); code != 200 || body != `{"message":"up-to-date"}` {
		t.Errorf("stable: %d %s", code, body)
	}
	channel("beta")
	if code, body := get(t, "GET", p.url+"/v1/system/get-update", testToken); code != 200 || !strings.Contains(body, `"version":"1.1.0-beta.1"`) {
		t.Errorf("beta: %d %s", code, body)
	}
	if code, body := get(t, "POST", p.url+"/v1/system/update", testToken); code != 200 || body != `{"message":"Updating to v1.1.0-beta.1"}` {
		t.Fatalf("update: %d %s", code, body)
	}
	hoist("apply", "--root", root)
	if data, err := os.ReadFile(filepath.Join(root, "app/a.txt")); err != nil || string(data) != "beta\n" {
		t.Fatalf("after the beta update: %q %v", data, err)
	}
	channel("stable")
	if code, body := get(t, "GET", p.url+"/v1/system/get-update", testToken); code != 200 || body != `{"message":"up-to-date"}` {
		t.Errorf("back on stable: %d %s", code, body)
	}
}
