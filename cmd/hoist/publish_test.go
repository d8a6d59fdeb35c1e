package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPublishThenInit publishes a release with the CLI and inits a node
// on the static repository: init detects it, records kind "static" and
// pins its root, but only with the key that signed that root.
func TestPublishThenInit(t *testing.T) {
	dir := t.TempDir()
	hoistCmd := func(want int, args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != want {
			t.Fatalf("hoist %s: exit %d, want %d: %s", strings.Join(args, " "), code, want, errOut.String())
		}
		return out.String() + errOut.String()
	}
	hoistCmd(0, "release", "keygen", "--out", filepath.Join(dir, "k"))
	hoistCmd(0, "release", "keygen", "--out", filepath.Join(dir, "other"))
	src := filepath.Join(dir, "src")
	os.Mkdir(src, 0o755)
	os.WriteFile(filepath.Join(src, "info.json"), []byte(`{"version":"1.0.0","app":"demo"}`), 0o644)
	repo := filepath.Join(dir, "repo")
	if out := hoistCmd(0, "release", "publish", "--key", filepath.Join(dir, "k.key"), "--out", repo, "--expires", "30d", src); !strings.Contains(out, "published v1.0.0") {
		t.Errorf("publish said %q", out)
	}
	hoistCmd(0, "release", "refresh", "--key", filepath.Join(dir, "k.key"), "--out", repo, "--expires", "72h")
	hoistCmd(2, "release", "refresh", "--key", filepath.Join(dir, "k.key"), "--out", repo, "--expires", "soon")

	url := "file://" + repo
	hoistCmd(1, "init", filepath.Join(dir, "foreign"), "--repo", url, "--pub", filepath.Join(dir, "other.pub"))
	if _, err := os.Stat(filepath.Join(dir, "foreign", ".hoist", "tuf")); err == nil {
		t.Error("a refused init left trusted metadata")
	}
	root := filepath.Join(dir, "node")
	hoistCmd(0, "init", root, "--repo", url, "--pub", filepath.Join(dir, "k.pub"), "--targets-url", "https://example.com/dl/")
	raw, err := os.ReadFile(filepath.Join(root, ".hoist", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Kind       string `json:"kind"`
		TargetsURL string `json:"targets_url"`
	}
	json.Unmarshal(raw, &cfg)
	if cfg.Kind != "static" || cfg.TargetsURL != "https://example.com/dl/" {
		t.Errorf("config %s", raw)
	}
	st, err := os.Stat(filepath.Join(root, ".hoist", "tuf"))
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf(".hoist/tuf: %v %v", st, err)
	}
	pinned, _ := os.ReadFile(filepath.Join(root, ".hoist", "tuf", "root.json"))
	served, _ := os.ReadFile(filepath.Join(repo, "metadata", "root.json"))
	if !bytes.Equal(pinned, served) {
		t.Error("the pinned root is not the repository's")
	}

	// rotate-root: the old key no longer publishes, the new one does.
	hoistCmd(0, "release", "rotate-root", "--key", filepath.Join(dir, "k.key"), "--new-key", filepath.Join(dir, "other.key"), "--out", repo)
	os.WriteFile(filepath.Join(src, "info.json"), []byte(`{"version":"1.1.0","app":"demo"}`), 0o644)
	hoistCmd(1, "release", "publish", "--key", filepath.Join(dir, "k.key"), "--out", repo, src)
	hoistCmd(0, "release", "publish", "--key", filepath.Join(dir, "other.key"), "--out", repo, src)
	if _, err := os.Stat(filepath.Join(repo, "metadata", "2.root.json")); err != nil {
		t.Errorf("no root version 2: %v", err)
	}
}
