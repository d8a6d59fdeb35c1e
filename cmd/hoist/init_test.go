package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/exitcode"
)

// writePubKey writes a minisign public key file with minisign itself when
// available, so init is tested against the real tool's format.
func writePubKey(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	pub := filepath.Join(dir, "k.pub")
	if _, err := exec.LookPath("minisign"); err != nil {
		t.Skip("minisign not installed (.ci/run installs it)")
	}
	cmd := exec.Command("minisign", "-G", "-W", "-p", pub, "-s", filepath.Join(dir, "k.key"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("minisign -G: %v\n%s", err, out)
	}
	return pub
}

func TestInit(t *testing.T) {
	pub := writePubKey(t)
	root := filepath.Join(t.TempDir(), "app")
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"init", root, "--repo", "file:///srv/rel", "--pub", pub}, &out, &errOut)
	if code != 0 {
		t.Fatalf("init exit %d: %s", code, errOut.String())
	}
	modes := map[string]os.FileMode{
		"events/signals":     0o770 | os.ModeDir,
		"statuses":           0o770 | os.ModeDir,
		".hoist":             0o700 | os.ModeDir,
		"triggers/update":    0o755,
		".hoist/config.json": 0o600,
	}
	for p, want := range modes {
		fi, err := os.Stat(filepath.Join(root, p))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "events/signals/.gitkeep")); err == nil {
		t.Error("placeholder copied into the signals dir")
	}
	var cfg map[string]any
	data, _ := os.ReadFile(filepath.Join(root, ".hoist/config.json"))
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["repo"] != "file:///srv/rel" || cfg["keep_backups"] != 2.0 || cfg["script_timeout"] != "30m" {
		t.Errorf("config = %s", data)
	}
	if keys, _ := cfg["pubkeys"].([]any); len(keys) != 1 {
		t.Errorf("pubkeys = %v", cfg["pubkeys"])
	}

	// A second init must not overwrite the live root's settings.
	code = run(context.Background(), []string{"init", root, "--repo", "file:///other", "--pub", pub}, &out, &errOut)
	if code != exitcode.Failure {
		t.Errorf("second init exit %d, want %d", code, exitcode.Failure)
	}
}

func TestUsageErrors(t *testing.T) {
	pub := writePubKey(t)
	t.Chdir(t.TempDir()) // a refused init must create nothing, but if it did, here
	tests := [][]string{
		{},
		{"nonsense"},
		{"init", "--repo"},
		{"init", "a", "b", "--repo", "r", "--pub", "p"},
		{"init", "dir"},
		{"init", "dir", "--repo", "r", "--pub", pub, "--protect", "/data/"},
		{"init", "dir", "--repo", "r", "--pub", pub, "--protect", "data/,../etc"},
		{"init", "dir", "--repo", "r", "--pub", pub, "--protect", "data/,"},
	}
	for _, args := range tests {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != exitcode.Usage {
			t.Errorf("hoist %q: exit %d, want %d (%s)", args, code, exitcode.Usage, errOut.String())
		}
	}
	if _, err := os.Stat("dir"); err == nil {
		t.Error("a refused init created the root")
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"init", "--help"}, &out, &errOut); code != 0 {
		t.Errorf("--help exit %d", code)
	}
}

// TestInitApp checks that --app pins the app and that --pub may be given
// several times.
func TestInitApp(t *testing.T) {
	pubA, pubB := writePubKey(t), writePubKey(t)
	root := filepath.Join(t.TempDir(), "app")
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"init", root, "--repo", "file:///srv/rel", "--pub", pubA, "--pub", pubB, "--app", "shop-1"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("init exit %d: %s", code, errOut.String())
	}
	var cfg struct {
		App     string   `json:"app"`
		Pubkeys []string `json:"pubkeys"`
	}
	data, _ := os.ReadFile(filepath.Join(root, ".hoist/config.json"))
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.App != "shop-1" || len(cfg.Pubkeys) != 2 || cfg.Pubkeys[0] == cfg.Pubkeys[1] {
		t.Errorf("config = %s", data)
	}
	other := filepath.Join(t.TempDir(), "app")
	code = run(context.Background(), []string{"init", other, "--repo", "file:///srv/rel", "--pub", pubA, "--app", "Shop"}, &out, &errOut)
	if code != exitcode.Usage {
		t.Errorf("init --app Shop: exit %d, want %d", code, exitcode.Usage)
	}
	if _, err := os.Stat(other); err == nil {
		t.Error("init with a bad --app made a root")
	}
}

// TestInitRedactsRepo: init's confirmation shows the repository without
// the credentials someone put into its URL.
func TestInitRedactsRepo(t *testing.T) {
	root := filepath.Join(t.TempDir(), "app")
	var out, errOut bytes.Buffer
	uid, gid := strconv.Itoa(os.Getuid()), strconv.Itoa(os.Getgid())
	args := []string{"init", root, "--repo", "https://ghp_Secret@git.example.org/r.git?token=T0ken", "--pub", writePubKey(t), "--manager-uid", uid, "--manager-gid", gid}
	if code := run(context.Background(), args, &out, &errOut); code != 0 {
		t.Fatalf("init exit %d: %s", code, errOut.String())
	}
	if got := out.String(); strings.Contains(got, "ghp_Secret") || strings.Contains(got, "T0ken") || !strings.Contains(got, "https://git.example.org/r.git?token=REDACTED") {
		t.Errorf("init printed %q", got)
	}
}

// TestNodeID: init makes the node id and the manager's copy; recover gives
// one to a root made before node ids and puts back a copy the manager changed.
func TestNodeID(t *testing.T) {
	pub := writePubKey(t)
	root := filepath.Join(t.TempDir(), "app")
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"init", root, "--repo", "file:///srv/rel", "--pub", pub}, &out, &errOut); code != 0 {
		t.Fatalf("init exit %d: %s", code, errOut.String())
	}
	read := func(name string) string {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	id := read(".hoist/node-id")
	if len(id) != 33 || read("statuses/node-id") != id {
		t.Fatalf("node-id %q, copy %q: want 32 hex digits and the same copy", id, read("statuses/node-id"))
	}
	if fi, err := os.Stat(filepath.Join(root, ".hoist/node-id")); err != nil || fi.Mode() != 0o600 {
		t.Fatalf(".hoist/node-id: %v, %v; want mode 0600", fi.Mode(), err)
	}
	recoverRoot := func() {
		t.Helper()
		if code := run(context.Background(), []string{"recover", "--root", root}, &out, &errOut); code != 0 {
			t.Fatalf("recover exit %d: %s", code, errOut.String())
		}
	}
	if err := os.WriteFile(filepath.Join(root, "statuses/node-id"), []byte("0123456789abcdef0123456789abcdef\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	recoverRoot()
	if got := read("statuses/node-id"); got != id {
		t.Fatalf("after recover the copy is %q, want root's %q", got, id)
	}
	for _, name := range []string{".hoist/node-id", ".hoist/node-host", "statuses/node-id"} {
		os.Remove(filepath.Join(root, name)) // a root made before node ids
	}
	recoverRoot()
	if fresh := read(".hoist/node-id"); len(fresh) != 33 || read("statuses/node-id") != fresh {
		t.Fatalf("recover made %q, copy %q", fresh, read("statuses/node-id"))
	}
}
