package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/testutil/treesnap"

	"github.com/hoist-dev/hoist/internal/backup"
	"github.com/hoist-dev/hoist/internal/engine"
	"github.com/hoist-dev/hoist/internal/install"
	"github.com/hoist-dev/hoist/internal/manifest"
)

// writeTree creates files in dir: "-> target" makes a symlink.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		var err error
		if target, ok := strings.CutPrefix(content, "-> "); ok {
			err = os.Symlink(target, full)
		} else {
			err = os.WriteFile(full, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestPlanTypeChanges plans, installs and undoes an update in which paths
// change kind (file → directory, directory → file, symlink → directory),
// files and whole directories go, a directory with the user's file in it
// stays, a protected path listed by the old release is left alone and an
// unchanged file is not touched.
func TestPlanTypeChanges(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"info.json": `{"version":"1.0.0"}`, "a": "a-old", "b/x": "x", "c": "-> b", "same": "same",
		"gone/deep/f": "f", "keepdir/f": "f", "data/seed": "seed",
	})
	old, err := manifest.Build(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	writeTree(t, dir, map[string]string{"keepdir/user": "the user's", "data/db": "the user's"})
	staging := filepath.Join(dir, ".app-v2.0.0")
	writeTree(t, staging, map[string]string{
		"info.json": `{"version":"2.0.0"}`, "a/y": "y", "b": "b-now-a-file", "c/z": "z", "same": "same", "new/n": "n",
		"hoist-release.json": "{}", "hoist-release.json.minisig": "sig",
	})
	m, err := manifest.Build(context.Background(), staging)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := os.OpenRoot(dir)
	defer root.Close()
	stg, _ := os.OpenRoot(staging)
	defer stg.Close()
	original := treesnap.Take(t, dir, ".app-*")

	want, before, err := engine.Plan(context.Background(), root, stg, old, m, []string{"data/"})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range want {
		if n.Path == "same" || strings.HasPrefix(n.Path, "data") {
			t.Errorf("plan touches %s", n.Path)
		}
	}
	if _, err := backup.Capture(context.Background(), root, ".hoist/undo", backup.Index{Nodes: before}); err != nil {
		t.Fatal(err)
	}
	if err := install.Apply(context.Background(), root, want, install.Options{From: ".app-v2.0.0"}); err != nil {
		t.Fatal(err)
	}
	got := treesnap.Take(t, dir, ".app-*", ".hoist")
	newTree := treesnap.Take(t, staging)
	for p, s := range newTree {
		if got[p] != s {
			t.Errorf("%s: %q, want %q", p, got[p], s)
		}
	}
	for _, p := range []string{"gone", "keepdir/f"} {
		if _, ok := got[p]; ok {
			t.Errorf("%s not removed", p)
		}
	}
	for _, p := range []string{"keepdir/user", "data/seed", "data/db"} {
		if _, ok := got[p]; !ok {
			t.Errorf("%s removed", p)
		}
	}

	idx, err := backup.Load(root, ".hoist/undo", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := backup.Restore(context.Background(), root, ".hoist/undo", idx, false, nil); err != nil {
		t.Fatal(err)
	}
	treesnap.Same(t, "after undo", treesnap.Take(t, dir, ".app-*", ".hoist"), original)
}
