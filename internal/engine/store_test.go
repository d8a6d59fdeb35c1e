package engine_test

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/hoist-dev/hoist/internal/config"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// TestUpdateDownloadsOnlyWhatChanged: over HTTP, the update to v1.1.0
// downloads about what changed, not the release again, and the object
// store then holds only the live release.
func TestUpdateDownloadsOnlyWhatChanged(t *testing.T) {
	big := make([]byte, 512<<10) // incompressible, the same in every release
	rand.Read(big)
	rels := releaserepo.DefaultReleases()
	for _, r := range rels {
		r.Files["app/big.bin"] = releaserepo.File{Content: string(big)}
	}
	f := newFixture(t, rels...)
	url := f.repo.ServeHTTP(t)
	f.editConfig(func(c *config.Config) { c.Repo = url })

	f.must("apply", "--to", "v1.0.0")
	first := f.repo.BytesServed()
	if first < int64(len(big)) {
		t.Fatalf("the first install downloaded %d bytes", first)
	}
	f.must("apply", "--to", "v1.1.0")
	if update := f.repo.BytesServed() - first; update > int64(len(big))/4 {
		t.Errorf("the update downloaded %d bytes; the unchanged %d-byte file again?", update, len(big))
	}
	tags, err := os.ReadDir(f.path(".hoist/objects/refs/tags"))
	if err != nil || len(tags) != 1 || tags[0].Name() != "v1.1.0" {
		t.Errorf("object store tags: %v (%v), want only v1.1.0", tags, err)
	}
}

// TestTamperedReleaseDropsTheObjectStore: a release that does not verify
// removes the store, so the next attempt cannot get the same tree from it.
func TestTamperedReleaseDropsTheObjectStore(t *testing.T) {
	f := newFixture(t, releaserepo.DefaultReleases()...)
	url := f.repo.ServeHTTP(t)
	f.editConfig(func(c *config.Config) { c.Repo = url })
	f.must("apply", "--to", "v1.0.0")
	if _, err := os.Stat(f.path(".hoist/objects")); err != nil {
		t.Fatalf("no object store after an install over HTTP: %v", err)
	}
	f.repo.Tamper(t, "1.1.0", func(work string) {
		os.WriteFile(filepath.Join(work, "app", "config.yml"), []byte("evil\n"), 0o644)
	})
	if r := f.hoist("apply", "--to", "v1.1.0"); r.Code != 4 {
		t.Fatalf("tampered release: %s", r)
	}
	if _, err := os.Stat(f.path(".hoist/objects")); !os.IsNotExist(err) {
		t.Errorf("object store kept after a release failed to verify: %v", err)
	}
}
