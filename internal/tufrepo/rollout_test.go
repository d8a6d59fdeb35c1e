package tufrepo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// TestSetRollout re-signs a release's rollout: a new targets, snapshot and
// timestamp version that a client verifies, the other custom fields and
// every target file as they were; refusals change nothing.
func TestSetRollout(t *testing.T) {
	key, out := newKey(t), filepath.Join(t.TempDir(), "repo")
	opts := Options{Keys: Keys{Key: key}}
	src := tree(t, "1.1.0", map[string]string{"a.txt": "a"})
	info := `{"version":"1.1.0","app":"demo","name":"Demo","changelog":"https://example.com/1.1.0","rollout":{"percent":10}}`
	if err := os.WriteFile(filepath.Join(src, "info.json"), []byte(info), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Publish(context.Background(), src, out, opts); err != nil {
		t.Fatal(err)
	}
	before := trusted(t, out)
	files := releaseFiles(t, out)
	manifest := before.Targets[metadata.TARGETS].Signed.Targets[Target("v1.1.0", ManifestName)]

	for _, tc := range []struct {
		rollout string
		want    string
	}{
		{`{"percent":0}`, `{"percent":0}`},
		{`{"start":"2026-12-01T00:00:00Z","days":7}`, `{"start":"2026-12-01T00:00:00Z","days":7}`},
		{"", ""},
	} {
		if err := SetRollout(out, "v1.1.0", json.RawMessage(tc.rollout), opts); err != nil {
			t.Fatalf("rollout %s: %v", tc.rollout, err)
		}
		tm := trusted(t, out)
		got := tm.Targets[metadata.TARGETS].Signed.Targets[Target("v1.1.0", ManifestName)]
		var custom Custom
		if err := json.Unmarshal(*got.Custom, &custom); err != nil {
			t.Fatal(err)
		}
		h := custom.Hoist
		var rollout bytes.Buffer
		if len(h.Rollout) > 0 {
			if err := json.Compact(&rollout, h.Rollout); err != nil {
				t.Fatal(err)
			}
		}
		if rollout.String() != tc.want || h.Name != "Demo" || h.Version != "1.1.0" || h.App != "demo" || h.Changelog != "https://example.com/1.1.0" {
			t.Errorf("after rollout %q: custom %+v, rollout %s", tc.rollout, h, &rollout)
		}
		if got.Length != manifest.Length || string(got.Hashes["sha256"]) != string(manifest.Hashes["sha256"]) {
			t.Error("the manifest target changed")
		}
	}
	if !maps.Equal(releaseFiles(t, out), files) {
		t.Error("a rollout change rewrote the release's targets or objects")
	}
	tm := trusted(t, out)
	if v := tm.Targets[metadata.TARGETS].Signed.Version; v != 4 {
		t.Errorf("targets version %d after three rollout changes, want 4", v)
	}
	if v := tm.Timestamp.Signed.Version; v != 4 {
		t.Errorf("timestamp version %d, want 4", v)
	}

	ts := readTimestamp(t, out)
	for name, err := range map[string]error{
		"unknown version": SetRollout(out, "v9.9.9", json.RawMessage(`{"percent":0}`), opts),
		"foreign key":     SetRollout(out, "v1.1.0", json.RawMessage(`{"percent":0}`), Options{Keys: Keys{Key: newKey(t)}}),
		"no repository":   SetRollout(filepath.Join(t.TempDir(), "none"), "v1.1.0", nil, opts),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if err := SetRollout(out, "v9.9.9", nil, opts); !errors.Is(err, ErrNoRelease) {
		t.Errorf("unknown version: %v, want ErrNoRelease", err)
	}
	if readTimestamp(t, out) != ts {
		t.Error("a refused rollout change wrote timestamp.json")
	}
}

// releaseFiles maps each file under targets/ and objects/ to its content.
func releaseFiles(t *testing.T, out string) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, dir := range []string{TargetsDir, ObjectsDir} {
		err := filepath.WalkDir(filepath.Join(out, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(p)
			files[p] = string(data)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(files) < 5 {
		t.Fatalf("only %d release files", len(files))
	}
	return files
}
