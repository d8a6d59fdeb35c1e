package engine_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/discovery"
	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/infofile"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// TestInfoSizeCap: the engine installs an info.json up to the cap the
// manager reads it with, and rejects a larger one, which would leave the
// manager unable to read the installed release.
func TestInfoSizeCap(t *testing.T) {
	rels := releaserepo.DefaultReleases()[:2]
	rels[0].Notes = strings.Repeat("n", infofile.MaxSize-1024)
	f := newFixture(t, rels...)
	f.must("apply", "--to", "v1.0.0")
	root, err := os.OpenRoot(f.root)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if info, _, err := discovery.Installed(root); err != nil || info.Version != "1.0.0" {
		t.Errorf("the manager's view of the installed release: %+v, %v", info, err)
	}

	// Signing refuses such an info.json, so sign it by hand.
	f.repo.Tamper(t, "1.1.0", func(dir string) {
		big := `{"version":"1.1.0","notes":"` + strings.Repeat("n", infofile.MaxSize) + `"}`
		os.WriteFile(filepath.Join(dir, "info.json"), []byte(big), 0o644)
		setHash(t, dir, "info.json", big)
		resign(t, f.repo, dir)
	})
	if r := f.hoist("apply", "--to", "v1.1.0"); r.Code != exitcode.Rejected || !strings.Contains(r.Stderr, "info.json") {
		t.Errorf("apply of a release with an oversized info.json: %s", r)
	}
	if info, _, err := discovery.Installed(root); err != nil || info.Version != "1.0.0" {
		t.Errorf("after the rejected release: %+v, %v", info, err)
	}
}

// setHash sets the sha256 of path in the manifest in dir to content's.
func setHash(t *testing.T, dir, path, content string) {
	t.Helper()
	p := filepath.Join(dir, "hoist-release.json")
	data, _ := os.ReadFile(p)
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(content))
	for _, e := range m["files"].([]any) {
		if e := e.(map[string]any); e["path"] == path {
			e["sha256"] = hex.EncodeToString(sum[:])
		}
	}
	data, _ = json.Marshal(m)
	os.WriteFile(p, data, 0o644)
}
