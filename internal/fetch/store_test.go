package fetch

import (
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/hoist-dev/hoist/internal/safefs"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// randomFiles returns n incompressible files of size bytes, app/fNN.bin.
func randomFiles(n, size int) map[string]releaserepo.File {
	files := map[string]releaserepo.File{}
	for i := range n {
		b := make([]byte, size)
		rand.Read(b)
		files[fmt.Sprintf("app/f%02d.bin", i)] = releaserepo.File{Content: string(b)}
	}
	return files
}

// change returns files (of randomFiles, storeFileSize bytes each) with the
// first n given new random content.
func change(files map[string]releaserepo.File, n int) map[string]releaserepo.File {
	out := maps.Clone(files)
	maps.Copy(out, randomFiles(n, storeFileSize))
	return out
}

const (
	storeFiles    = 20
	storeFileSize = 64 << 10
	releaseBytes  = storeFiles * storeFileSize
)

// storeRepo serves v1.0.0 (20 random files), v1.1.0 (one changed), v2.0.0
// (all changed), v2.1.0 (one changed), v3.0.0 (all changed), v3.1.0 (one
// changed).
func storeRepo(t *testing.T) (*releaserepo.Repo, string) {
	v1 := randomFiles(storeFiles, storeFileSize)
	v2 := change(v1, storeFiles)
	v3 := change(v2, storeFiles)
	r := releaserepo.New(t,
		releaserepo.Release{Version: "1.0.0", Files: v1},
		releaserepo.Release{Version: "1.1.0", Files: change(v1, 1)},
		releaserepo.Release{Version: "2.0.0", Files: v2},
		releaserepo.Release{Version: "2.1.0", Files: change(v2, 1)},
		releaserepo.Release{Version: "3.0.0", Files: v3},
		releaserepo.Release{Version: "3.1.0", Files: change(v3, 1)},
	)
	return r, r.ServeHTTP(t)
}

// cloneCounting clones tag with store and returns the bytes downloaded.
func cloneCounting(t *testing.T, r *releaserepo.Repo, url, store, tag string) int64 {
	t.Helper()
	before := r.BytesServed()
	dir := filepath.Join(t.TempDir(), ".app-"+tag)
	if err := Clone(context.Background(), Options{URL: url, Tag: tag, Dir: dir, Store: store}); err != nil {
		t.Fatal(err)
	}
	verify(t, r, dir, tag[1:])
	return r.BytesServed() - before
}

func TestStoreMakesFetchesIncremental(t *testing.T) {
	r, url := storeRepo(t)
	store := filepath.Join(t.TempDir(), "objects")
	full := cloneCounting(t, r, url, store, "v1.0.0")
	if full < releaseBytes {
		t.Fatalf("first clone downloaded %d bytes, less than the release's %d", full, releaseBytes)
	}
	if n := cloneCounting(t, r, url, store, "v1.1.0"); n > storeFileSize+full/10 {
		t.Errorf("clone of v1.1.0 (one file changed) downloaded %d bytes; v1.0.0 took %d", n, full)
	}
	// A thin pack (deltas against the store's objects: the trees here)
	// goes in as a pack too; the failed fast attempt leaves nothing behind.
	checkStore(t, store, 0)
	// Without the store, the same clone downloads the release again.
	if n := cloneCounting(t, r, url, "", "v1.1.0"); n < releaseBytes {
		t.Errorf("clone without a store downloaded only %d bytes", n)
	}
}

// TestStoreAlreadyHasTheTag clones a tag the store holds already, as an
// update does after a rollback from that release: nothing to download.
func TestStoreAlreadyHasTheTag(t *testing.T) {
	r, url := storeRepo(t)
	store := filepath.Join(t.TempDir(), "objects")
	cloneCounting(t, r, url, store, "v1.0.0")
	cloneCounting(t, r, url, store, "v1.1.0")
	if n := cloneCounting(t, r, url, store, "v1.1.0"); n > storeFileSize {
		t.Errorf("clone of a tag in the store downloaded %d bytes", n)
	}
}

func TestPruneStoreKeepsOnlyTheLiveTag(t *testing.T) {
	r, url := storeRepo(t)
	store := filepath.Join(t.TempDir(), "objects")
	prune := func(tag string) {
		t.Helper()
		if err := PruneStore(context.Background(), store, tag); err != nil {
			t.Fatal(err)
		}
		tags, err := os.ReadDir(filepath.Join(store, "refs", "tags"))
		if err != nil || len(tags) != 1 || tags[0].Name() != tag {
			t.Errorf("pruned store has tags %v (%v), want only %s", tags, err, tag)
		}
	}
	cloneCounting(t, r, url, store, "v1.0.0")
	cloneCounting(t, r, url, store, "v2.0.0") // every file changed: twice the objects
	prune("v2.0.0")
	if got := size(t, store); got < 2*releaseBytes {
		t.Errorf("a store within its budget (twice the live release) was rewritten: %d bytes", got)
	}
	cloneCounting(t, r, url, store, "v3.0.0") // and again: three times
	prune("v3.0.0")
	if got := size(t, store); got > releaseBytes+storeSlack {
		t.Errorf("pruned store holds %d bytes, want about %d", got, releaseBytes)
	}
	noLeftovers(t, filepath.Dir(store), "objects")
	// The rewritten store still makes the next fetch incremental.
	if n := cloneCounting(t, r, url, store, "v3.1.0"); n > storeFileSize+releaseBytes/10 {
		t.Errorf("clone of v3.1.0 after the prune downloaded %d bytes", n)
	}
}

func TestPruneStoreLeavesASmallStoreAlone(t *testing.T) {
	r, url := storeRepo(t)
	store := filepath.Join(t.TempDir(), "objects")
	cloneCounting(t, r, url, store, "v1.0.0")
	cloneCounting(t, r, url, store, "v1.1.0")
	packs := func() []os.DirEntry {
		e, err := os.ReadDir(filepath.Join(store, "objects", "pack"))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	before := len(packs())
	if err := PruneStore(context.Background(), store, "v1.1.0"); err != nil {
		t.Fatal(err)
	}
	if after := len(packs()); after != before {
		t.Errorf("prune rewrote a store within its budget: %d pack files, then %d", before, after)
	}
	if err := PruneStore(context.Background(), filepath.Join(t.TempDir(), "none"), "v1.1.0"); err != nil {
		t.Errorf("prune of a missing store: %v", err)
	}
}

func TestDamagedStoreIsReplaced(t *testing.T) {
	damage := map[string]func(t *testing.T, store string){
		"pack overwritten": func(t *testing.T, store string) {
			for _, p := range glob(t, store, "objects/pack/*.pack") {
				f, err := os.OpenFile(p, os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				zeros := make([]byte, 64<<10)
				if _, err := f.WriteAt(zeros, 4096); err != nil {
					t.Fatal(err)
				}
				f.Close()
			}
		},
		"pack removed": func(t *testing.T, store string) {
			for _, p := range glob(t, store, "objects/pack/*") {
				os.Remove(p)
			}
		},
	}
	for name, fn := range damage {
		t.Run(name, func(t *testing.T) {
			r, url := storeRepo(t)
			store := filepath.Join(t.TempDir(), "objects")
			full := cloneCounting(t, r, url, store, "v1.0.0")
			fn(t, store)
			if n := cloneCounting(t, r, url, store, "v1.1.0"); n < full*9/10 {
				t.Errorf("downloaded %d bytes after the damage, want the whole release again (%d)", n, full)
			}
			if n := cloneCounting(t, r, url, store, "v1.0.0"); n > full/2 {
				t.Errorf("the store made afresh is not used: downloaded %d bytes", n)
			}
		})
	}
}

func size(t *testing.T, dir string) int64 {
	t.Helper()
	n, err := safefs.TreeSize(dir)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func glob(t *testing.T, dir, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil || len(m) == 0 {
		t.Fatalf("no %s in %s: %v", pattern, dir, err)
	}
	return m
}
