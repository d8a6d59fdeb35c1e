package engine_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// inodes maps the inode of every regular file below dir to its path.
func inodes(t *testing.T, dir string) map[uint64]string {
	t.Helper()
	out := map[uint64]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			out[fi.Sys().(*syscall.Stat_t).Ino] = p
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sharedWithCache fails if a live file of f shares its inode with an
// object of the cache: the app could change the object by writing it.
func sharedWithCache(t *testing.T, f *fixture) {
	t.Helper()
	objects := inodes(t, f.path(".hoist/cache"))
	if len(objects) == 0 {
		t.Fatal("the object cache is empty")
	}
	for _, top := range []string{"app", "scripts", "info.json", "hoist-release.json"} {
		for ino, p := range inodes(t, f.path(top)) {
			if obj, ok := objects[ino]; ok {
				t.Errorf("live %s is the cache object %s", p, obj)
			}
		}
	}
}

// TestUpdateStagesFromTheCache: an update links the files the cache holds
// into its staging clone and checks out only the others; the files it
// installs from the cache are copies; after it, the cache holds the live
// release and no live file is an object.
func TestUpdateStagesFromTheCache(t *testing.T) {
	rels := releaserepo.DefaultReleases()[:2]
	for _, r := range rels {
		r.Files["app/static/a.txt"] = releaserepo.File{Content: "unchanged\n"}
		r.Files["app/static/tool"] = releaserepo.Script("echo unchanged")
	}
	// v1.0.0's app/legacy.txt, moved: its content is in the cache.
	rels[1].Files["app/moved.txt"] = rels[0].Files["app/legacy.txt"]
	f := newFixture(t, rels...)
	f.must("apply", "--to", "v1.0.0")
	sharedWithCache(t, f)

	if r := f.exec([]string{crashEnv + "fetched"}, "apply", "--to", "v1.1.0", "--root", f.root); r.Code == 0 {
		t.Fatalf("apply did not crash at fetched: %s", r)
	}
	objects := inodes(t, f.path(".hoist/cache"))
	for p, fromCache := range map[string]bool{
		"app/static/a.txt": true, "app/static/tool": true, "app/moved.txt": true,
		"app/config.yml": false, "app/bin/app": false, "scripts/update/00-run.sh": false,
	} {
		fi, err := os.Stat(f.path(".app-v1.1.0/" + p))
		if err != nil {
			t.Fatal(err)
		}
		if _, linked := objects[fi.Sys().(*syscall.Stat_t).Ino]; linked != fromCache {
			t.Errorf("staged %s linked from the cache: %v, want %v", p, linked, fromCache)
		}
	}
	f.must("recover")
	f.must("apply", "--to", "v1.1.0")
	if got := f.read("app/moved.txt"); got != "only in 1.0.0\n" {
		t.Errorf("app/moved.txt = %q", got)
	}
	sharedWithCache(t, f)
	if _, err := os.Stat(f.path(".hoist/cache/" + sum("only in 1.0.0\n"))); err != nil {
		t.Errorf("the cache lacks a file of the live release: %v", err)
	}
	if _, err := os.Stat(f.path(".hoist/cache/" + sum("version: 1.0.0\n"))); !os.IsNotExist(err) {
		t.Errorf("the cache kept a file only the old release had: %v", err)
	}
}

func sum(content string) string {
	h := sha256.Sum256([]byte(content))
	return hex.EncodeToString(h[:])
}
