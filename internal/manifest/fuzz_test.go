package manifest_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hoist-dev/hoist/internal/manifest"
)

// fuzzTree writes a small release tree (a file, an executable, a symlink,
// a nested directory, info.json) and returns its directory.
func fuzzTree(f *testing.F) string {
	f.Helper()
	dir := f.TempDir()
	files := map[string]string{
		"info.json":        `{"version":"1.1.0"}`,
		"app/config.yml":   "version: 1.1.0\n",
		"app/bin/app":      "#!/bin/sh\necho app\n",
		"app/deep/er/file": "deep\n",
	}
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "app/bin/app"), 0o755); err != nil {
		f.Fatal(err)
	}
	if err := os.Symlink("config.yml", filepath.Join(dir, "app/current.yml")); err != nil {
		f.Fatal(err)
	}
	return dir
}

// FuzzVerifyTree checks, for arbitrary manifest bytes against one real
// tree, that verification is exact: a manifest that parses and verifies
// lists exactly the files Build finds, with their hashes, modes and link
// targets. Nothing panics, and a mismatch is always an ErrMismatch.
func FuzzVerifyTree(f *testing.F) {
	dir := fuzzTree(f)
	ctx := context.Background()
	truth, err := manifest.Build(ctx, dir)
	if err != nil {
		f.Fatal(err)
	}
	want, err := truth.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(want)
	// Near misses: one byte changed anywhere in the true manifest.
	for _, i := range []int{0, len(want) / 3, len(want) / 2, len(want) - 2} {
		near := bytes.Clone(want)
		near[i] ^= 1
		f.Add(near)
	}
	f.Add(bytes.Replace(want, []byte(`"0755"`), []byte(`"0644"`), 1))
	f.Add(bytes.Replace(want, []byte(`"config.yml"`), []byte(`"../config.yml"`), 1))
	root, err := os.OpenRoot(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { root.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := manifest.Parse(data)
		if err != nil {
			return
		}
		if _, err := manifest.Diff(ctx, root, m); err != nil {
			t.Fatalf("Diff: %v", err)
		}
		err = manifest.VerifyTree(ctx, root, m)
		if err != nil {
			if !errors.Is(err, manifest.ErrMismatch) {
				t.Fatalf("VerifyTree error is not a mismatch: %v", err)
			}
			return
		}
		m.Version = truth.Version // VerifyTree does not judge the version
		got, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("a manifest other than the tree's verified:\n%s\nwant\n%s", got, want)
		}
	})
}
