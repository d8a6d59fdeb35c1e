package tufrepo

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"

	"github.com/hoist-dev/hoist/internal/release"
)

// tree writes a release work tree of version with files (path → content).
func tree(t *testing.T, version string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files["info.json"] = `{"version":"` + version + `","app":"demo","name":"Demo","notes":"n","channel":"beta"}`
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func newKey(t *testing.T) string {
	t.Helper()
	prefix := filepath.Join(t.TempDir(), "k")
	if err := release.GenerateKey(prefix, ""); err != nil {
		t.Fatal(err)
	}
	return prefix + ".key"
}

// trusted loads the repository's metadata the way a client does, from its
// root.json, and fails the test if any of it does not verify.
func trusted(t *testing.T, out string) *trustedmetadata.TrustedMetadata {
	t.Helper()
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(out, MetadataDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	tm, err := trustedmetadata.New(read("root.json"))
	if err != nil {
		t.Fatal(err)
	}
	ts, err := tm.UpdateTimestamp(read("timestamp.json"))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := tm.UpdateSnapshot(read(versioned(ts.Signed.Meta["snapshot.json"].Version, metadata.SNAPSHOT)), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tm.UpdateTargets(read(versioned(snap.Signed.Meta["targets.json"].Version, metadata.TARGETS))); err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestPublish(t *testing.T) {
	ctx := context.Background()
	key, out := newKey(t), filepath.Join(t.TempDir(), "repo")
	opts := Options{Keys: Keys{Key: key}}
	v1 := tree(t, "1.0.0", map[string]string{"a.txt": "same", "b.txt": "old", ".git/HEAD": "ref: main"})
	// A git work tree's .git is not copied: a fifo there would stop a copy.
	if err := syscall.Mkfifo(filepath.Join(v1, ".git", "fsmonitor"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := Publish(ctx, v1, out, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Objects != 3 { // a.txt, b.txt, info.json
		t.Errorf("first publish wrote %d objects, want 3", res.Objects)
	}
	if _, err := os.Stat(filepath.Join(v1, "hoist-release.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("publish changed SRC: %v", err)
	}
	v2 := tree(t, "1.1.0", map[string]string{"a.txt": "same", "b.txt": "new"})
	if res, err = Publish(ctx, v2, out, opts); err != nil {
		t.Fatal(err)
	}
	if res.Objects != 2 || res.Bytes != int64(len("new"))+mustSize(t, v2, "info.json") {
		t.Errorf("second publish wrote %d objects, %d bytes; want only b.txt and info.json", res.Objects, res.Bytes)
	}

	tm := trusted(t, out)
	targets := tm.Targets[metadata.TARGETS].Signed.Targets
	for _, name := range []string{ManifestName, SignatureName, InfoName, ObjectsName} {
		p := Target("v1.1.0", name)
		tf, ok := targets[p]
		if !ok {
			t.Fatalf("target %s missing", p)
		}
		data, err := os.ReadFile(filepath.Join(out, TargetsDir, p))
		if err != nil {
			t.Fatal(err)
		}
		if err := tf.VerifyLengthHashes(data); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	var custom Custom
	if err := json.Unmarshal(*targets[Target("v1.1.0", ManifestName)].Custom, &custom); err != nil {
		t.Fatal(err)
	}
	want := Release{App: "demo", Version: "1.1.0", Name: "Demo", Notes: "n", Channel: "beta"}
	if custom.Hoist.App != want.App || custom.Hoist.Version != want.Version || custom.Hoist.Channel != want.Channel || custom.Hoist.Name != want.Name {
		t.Errorf("custom metadata %+v, want %+v", custom.Hoist, want)
	}

	// Same content again: a no-op; other content under the same version: refused.
	before := readTimestamp(t, out)
	if res, err = Publish(ctx, v2, out, opts); err != nil || !res.Unchanged {
		t.Errorf("republishing the same release: %+v, %v; want unchanged", res, err)
	}
	if err := os.WriteFile(filepath.Join(v2, "b.txt"), []byte("other"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Publish(ctx, v2, out, opts); !errors.Is(err, ErrRepublish) {
		t.Errorf("republishing 1.1.0 with other content: %v, want ErrRepublish", err)
	}
	if after := readTimestamp(t, out); after != before {
		t.Error("a refused or no-op publish changed timestamp.json")
	}

	// A foreign key cannot publish into the repository.
	if _, err := Publish(ctx, tree(t, "1.2.0", map[string]string{}), out, Options{Keys: Keys{Key: newKey(t)}}); err == nil {
		t.Error("a key that is not the targets key published")
	}
}

func TestRefreshRenewsTimestampOnly(t *testing.T) {
	key, out := newKey(t), filepath.Join(t.TempDir(), "repo")
	now := time.Now()
	if _, err := Publish(context.Background(), tree(t, "1.0.0", map[string]string{}), out, Options{Keys: Keys{Key: key}, Now: now, Expires: time.Hour}); err != nil {
		t.Fatal(err)
	}
	snapshots, _ := filepath.Glob(filepath.Join(out, MetadataDir, "*.snapshot.json"))
	if err := Refresh(out, Keys{Key: key}, now.Add(time.Hour), 0); err != nil {
		t.Fatal(err)
	}
	tm := trusted(t, out)
	ts := tm.Timestamp.Signed
	if ts.Version != 2 || ts.Expires.Before(now.Add(3*7*24*time.Hour)) {
		t.Errorf("refreshed timestamp: version %d, expires %s; want 2 and at least 3 weeks ahead", ts.Version, ts.Expires)
	}
	if after, _ := filepath.Glob(filepath.Join(out, MetadataDir, "*.snapshot.json")); len(after) != len(snapshots) {
		t.Errorf("refresh wrote a snapshot: %v", after)
	}
	if err := Refresh(out, Keys{Key: newKey(t)}, now, 0); err == nil {
		t.Error("a foreign key refreshed the timestamp")
	}

	// Ten months without a release: the weekly refresh renews the rest too.
	later := now.Add(300 * 24 * time.Hour)
	if err := Refresh(out, Keys{Key: key}, later, 0); err != nil {
		t.Fatal(err)
	}
	tm = trusted(t, out)
	for role, exp := range map[string]time.Time{"root": tm.Root.Signed.Expires, "snapshot": tm.Snapshot.Signed.Expires,
		"targets": tm.Targets[metadata.TARGETS].Signed.Expires} {
		if exp.Before(later.Add(300 * 24 * time.Hour)) {
			t.Errorf("%s expires %s, not renewed", role, exp)
		}
	}
}

func mustSize(t *testing.T, dir, name string) int64 {
	st, err := os.Stat(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func readTimestamp(t *testing.T, out string) string {
	data, err := os.ReadFile(filepath.Join(out, MetadataDir, "timestamp.json"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestPublishAfterInterruptedFirst: a first publish stopped after the
// root was written (here: its other metadata removed) leaves a repository
// the next publish completes.
func TestPublishAfterInterruptedFirst(t *testing.T) {
	key, out := newKey(t), filepath.Join(t.TempDir(), "repo")
	opts := Options{Keys: Keys{Key: key}}
	if _, err := Publish(context.Background(), tree(t, "1.0.0", map[string]string{}), out, opts); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"timestamp.json", "1.snapshot.json", "1.targets.json"} {
		if err := os.Remove(filepath.Join(out, MetadataDir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Publish(context.Background(), tree(t, "1.0.0", map[string]string{}), out, opts); err != nil {
		t.Fatalf("publish after an interrupted first one: %v", err)
	}
	if _, ok := trusted(t, out).Targets[metadata.TARGETS].Signed.Targets[Target("v1.0.0", ManifestName)]; !ok {
		t.Error("v1.0.0 is not published")
	}
}

func TestPublishTarball(t *testing.T) {
	key, out := newKey(t), filepath.Join(t.TempDir(), "repo")
	if _, err := Publish(context.Background(), tree(t, "1.0.0", map[string]string{"a/b.txt": "b"}), out, Options{Keys: Keys{Key: key}, Tarball: true}); err != nil {
		t.Fatal(err)
	}
	p := Target("v1.0.0", TarballName("demo"))
	tf, ok := trusted(t, out).Targets[metadata.TARGETS].Signed.Targets[p]
	if !ok {
		t.Fatalf("no target %s", p)
	}
	data, err := os.ReadFile(filepath.Join(out, TargetsDir, p))
	if err != nil {
		t.Fatal(err)
	}
	if err := tf.VerifyLengthHashes(data); err != nil {
		t.Errorf("%s: %v", p, err)
	}
}
