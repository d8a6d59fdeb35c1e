package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/manager/managertest"
	"github.com/hoist-dev/hoist/internal/settings"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
	"github.com/hoist-dev/hoist/internal/testutil/testbin"
)

// `hoist settings` as a real process edits the manager's file, prints it
// without secrets and refuses bad values without touching it.
func TestSettingsCommand(t *testing.T) {
	root := managertest.NewRoot(t, "1.0.0")
	file := filepath.Join(root, "statuses", settings.Name)
	asRoot := os.Geteuid() == 0
	if asRoot { // the manager's user owns statuses/
		if err := os.Chown(filepath.Join(root, "statuses"), 4321, 4322); err != nil {
			t.Fatal(err)
		}
	}
	hoist := func(want int, args ...string) testbin.Result {
		t.Helper()
		r := testbin.Run(t, nil, testbin.Path(t, "hoist"), append([]string{"settings", "--root", root}, args...)...)
		if r.Code != want {
			t.Fatalf("hoist settings %v: %s", args, r)
		}
		return r
	}
	if r := hoist(0); !strings.Contains(r.Stderr, "no settings yet") || !strings.Contains(r.Stdout, `"auto_update":false`) {
		t.Errorf("no file: %s", r)
	}
	// The first change must say whether to auto-update: the manager's
	// flag, which the file will override, is not known here.
	hoist(exitcode.Usage, "--window", "03:00-05:00")
	if _, err := os.Stat(file); err == nil {
		t.Fatal("a refused change wrote the file")
	}

	secret := "ntfy://owner:tk_s3cr3t@ntfy.sh/topic"
	r := hoist(0, "--auto-update", "on", "--window", "03:00-05:00", "--skip", "v1.2.0", "--skip", "1.3.0", "--notify", secret)
	want := `{"auto_update":true,"window":"03:00-05:00","channel":"stable","skip":["v1.2.0","v1.3.0"],"notify":["ntfy://***@ntfy.sh/***"]}`
	if strings.TrimSpace(r.Stdout) != want || strings.Contains(r.Stdout+r.Stderr, "tk_s3cr3t") {
		t.Errorf("after the change: %s", r)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o600 || asRoot && (st.Uid != 4321 || st.Gid != 4322) {
		t.Errorf("file mode %v owner %d:%d, want 0600 4321:4322", fi.Mode(), st.Uid, st.Gid)
	}

	r = hoist(0, "--unskip", "1.2.0", "--channel", "beta", "--window", "")
	var got settings.Settings
	if err := json.Unmarshal([]byte(r.Stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got.Channel != "beta" || !got.Window.IsZero() || len(got.Skip) != 1 || got.Skip[0] != "v1.3.0" || len(got.Notify) != 1 {
		t.Errorf("after the second change: %s", r.Stdout)
	}

	before, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{
		{"--window", "3-5"}, {"--channel", "nightly"}, {"--auto-update", "maybe"}, {"--skip", "latest"}, {"--notify", "not a url"},
	} {
		hoist(exitcode.Usage, bad...)
	}
	if after, _ := os.ReadFile(file); string(after) != string(before) {
		t.Errorf("refused changes altered the file:\n%s", after)
	}
	if r := hoist(0, "--notify", ""); !strings.Contains(r.Stdout, `"notify":[]`) {
		t.Errorf("--notify \"\" does not clear: %s", r.Stdout)
	}
}

// hoist check follows the owner's channel, as get-update does.
func TestCheckFollowsChannel(t *testing.T) {
	repo := releaserepo.New(t,
		releaserepo.Release{Version: "1.0.0", Files: map[string]releaserepo.File{}},
		releaserepo.Release{Version: "1.1.0-beta.1", Files: map[string]releaserepo.File{}})
	root := userRoot(t, repo.FileURL(), repo.PubFile, "1.0.0")
	if out, _ := userCmd(t, 0, "check", "--root", root); strings.TrimSpace(out) != `{"message":"up-to-date"}` {
		t.Errorf("stable: %s", out)
	}
	userCmd(t, 0, "settings", "--root", root, "--auto-update", "off", "--channel", "beta")
	if out, _ := userCmd(t, 0, "check", "--root", root); !strings.Contains(out, `"version":"1.1.0-beta.1"`) {
		t.Errorf("beta: %s", out)
	}
}
