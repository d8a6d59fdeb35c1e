package objcache_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/hoist-dev/hoist/internal/objcache"
)

const cacheDir = ".hoist/cache"

func sum(data string) string {
	h := sha256.Sum256([]byte(data))
	return hex.EncodeToString(h[:])
}

// setup opens a cache in a new app root and a release directory "rel"
// beside it; it returns the root's path, the root and the cache.
func setup(t *testing.T) (string, *os.Root, *objcache.Cache) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rel"), 0o755); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	c, err := objcache.Open(root, cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return dir, root, c
}

func openDir(t *testing.T, dir string) *os.Root {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// download writes data as a finished download of its object and adopts it.
func download(t *testing.T, dir string, c *objcache.Cache, data string) string {
	t.Helper()
	h := sum(data)
	if err := os.WriteFile(filepath.Join(dir, c.PartialPath(h)), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.Adopt(h); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestOpenMakesPrivateDirs(t *testing.T) {
	dir, _, _ := setup(t)
	for _, p := range []string{cacheDir, cacheDir + "/partial"} {
		fi, err := os.Stat(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, want 0700", p, fi.Mode().Perm())
		}
	}
}

func TestAdoptThenPlace(t *testing.T) {
	ctx := context.Background()
	dir, _, c := setup(t)
	h := download(t, dir, c, "hello\n")
	if !c.Has(h) {
		t.Fatal("Has is false after Adopt")
	}
	fi, err := os.Stat(filepath.Join(dir, cacheDir, h))
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("cached object: %v, %v; want mode 0644", fi, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, c.PartialPath(h))); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("partial file still there after Adopt: %v", err)
	}

	rel := openDir(t, filepath.Join(dir, "rel"))
	for _, mode := range []fs.FileMode{0o644, 0o755} {
		name := "f" + mode.String()
		if err := c.Place(ctx, h, rel, name, mode); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "rel", name)
		got, err := os.ReadFile(p)
		if err != nil || string(got) != "hello\n" {
			t.Fatalf("placed %s: %q, %v", name, got, err)
		}
		fi, _ := os.Stat(p)
		if fi.Mode().Perm() != mode {
			t.Errorf("placed %s: mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
		if n := fi.Sys().(*syscall.Stat_t).Nlink; n != 1 {
			t.Errorf("placed %s shares its inode (%d links)", name, n)
		}
	}
	// Writing a placed file in place must not change the object.
	if err := os.WriteFile(filepath.Join(dir, "rel", "f-rw-r--r--"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, cacheDir, h)); string(got) != "hello\n" {
		t.Errorf("object changed with the placed file: %q", got)
	}
}

func TestPlaceRefusesExistingName(t *testing.T) {
	dir, _, c := setup(t)
	h := download(t, dir, c, "x")
	if err := os.WriteFile(filepath.Join(dir, "rel", "f"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Place(context.Background(), h, openDir(t, filepath.Join(dir, "rel")), "f", 0o644); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Place over an existing file: %v, want ErrExist", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "rel", "f")); string(got) != "mine" {
		t.Errorf("existing file changed: %q", got)
	}
}

func TestBadHashes(t *testing.T) {
	dir, _, c := setup(t)
	rel := openDir(t, filepath.Join(dir, "rel"))
	for _, h := range []string{"", "..", "partial", strings.Repeat("A", 64), strings.Repeat("a", 63), "../" + strings.Repeat("a", 61)} {
		if c.Has(h) {
			t.Errorf("Has(%q) = true", h)
		}
		if err := c.Adopt(h); !errors.Is(err, objcache.ErrBadHash) {
			t.Errorf("Adopt(%q) = %v, want ErrBadHash", h, err)
		}
		if err := c.Place(context.Background(), h, rel, "f", 0o644); !errors.Is(err, objcache.ErrBadHash) {
			t.Errorf("Place(%q) = %v, want ErrBadHash", h, err)
		}
		if err := c.Add(context.Background(), rel, map[string]string{"f": h}); !errors.Is(err, objcache.ErrBadHash) {
			t.Errorf("Add(%q) = %v, want ErrBadHash", h, err)
		}
	}
}

func TestLinkSharesOnlyWithTheSameMode(t *testing.T) {
	ctx := context.Background()
	dir, _, c := setup(t)
	h := download(t, dir, c, "#!/bin/sh\n") // a download is 0644
	d, err := os.Open(filepath.Join(dir, "rel"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	obj, _ := os.Stat(filepath.Join(dir, cacheDir, h))
	for _, tc := range []struct {
		name   string
		mode   fs.FileMode
		shared bool
	}{{"plain", 0o644, true}, {"exec", 0o755, false}} {
		if err := c.Link(ctx, h, d, tc.name, tc.mode); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		fi, err := os.Lstat(filepath.Join(dir, "rel", tc.name))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "rel", tc.name)); string(got) != "#!/bin/sh\n" {
			t.Errorf("%s: content %q", tc.name, got)
		}
		if fi.Mode().Perm() != tc.mode {
			t.Errorf("%s: mode %v, want %v", tc.name, fi.Mode().Perm(), tc.mode)
		}
		if os.SameFile(fi, obj) != tc.shared {
			t.Errorf("%s: shares the object's inode: %v, want %v", tc.name, !tc.shared, tc.shared)
		}
	}
	if err := c.Link(ctx, h, d, "plain", 0o644); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Link over an existing name: %v, want ErrExist", err)
	}
}

func TestAddCopiesNeverLinks(t *testing.T) {
	for _, tmpfile := range []bool{true, false} {
		t.Run(fmt.Sprintf("tmpfile=%v", tmpfile), func(t *testing.T) { testAddCopiesNeverLinks(t, tmpfile) })
	}
}

// testAddCopiesNeverLinks creates the copies as unnamed files (O_TMPFILE)
// or under temp names of partial/.
func testAddCopiesNeverLinks(t *testing.T, tmpfile bool) {
	ctx := context.Background()
	dir, _, c := setup(t)
	if !tmpfile {
		objcache.WithoutTmpfile(c)
	}
	live := filepath.Join(dir, "rel", "app.conf")
	if err := os.WriteFile(live, []byte("v1"), 0o755); err != nil {
		t.Fatal(err)
	}
	h := sum("v1")
	rel := openDir(t, filepath.Join(dir, "rel"))
	if err := c.Add(ctx, rel, map[string]string{"app.conf": h}); err != nil {
		t.Fatal(err)
	}
	if !c.Has(h) {
		t.Fatal("Has is false after Add")
	}
	if fi, err := os.Stat(filepath.Join(dir, cacheDir, h)); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("added object: %v, %v; want the file's mode 0755", fi, err)
	}
	if err := os.WriteFile(live, []byte("v2"), 0o644); err != nil { // in place, as an app may
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, cacheDir, h)); string(got) != "v1" {
		t.Errorf("object follows the live file: %q", got)
	}
	if err := os.Symlink("app.conf", filepath.Join(dir, "rel", "link")); err != nil {
		t.Fatal(err)
	}
	// A file changed since it was verified is left out; the rest goes in.
	if err := os.WriteFile(filepath.Join(dir, "rel", "other"), []byte("other"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := c.Add(ctx, rel, map[string]string{"app.conf": sum("v3"), "other": sum("other")})
	if !errors.Is(err, objcache.ErrMismatch) {
		t.Errorf("Add of a changed file: %v, want ErrMismatch", err)
	}
	if c.Has(sum("v3")) || !c.Has(sum("other")) {
		t.Errorf("after a mismatch: Has(changed) = %v, Has(other) = %v", c.Has(sum("v3")), c.Has(sum("other")))
	}
	if err := c.Add(ctx, rel, map[string]string{"link": sum("v2")}); err == nil {
		t.Error("Add followed a symlink")
	}
	if c.Has(sum("v2")) {
		t.Error("a failed Add left an object")
	}
	if leftovers, _ := os.ReadDir(filepath.Join(dir, cacheDir, "partial")); len(leftovers) != 0 {
		t.Errorf("a failed Add left %d temp files", len(leftovers))
	}
}

func TestKeepDropsTheRest(t *testing.T) {
	ctx := context.Background()
	dir, root, c := setup(t)
	a, b := download(t, dir, c, "a"), download(t, dir, c, "b")
	stale := sum("torn")
	if err := os.WriteFile(filepath.Join(dir, c.PartialPath(stale)), []byte("to"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.Keep(ctx, map[string]bool{a: true}); err != nil {
		t.Fatal(err)
	}
	if !c.Has(a) || c.Has(b) {
		t.Errorf("after Keep(a): Has(a)=%v Has(b)=%v", c.Has(a), c.Has(b))
	}
	if _, err := os.Lstat(filepath.Join(dir, c.PartialPath(stale))); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("partial download kept: %v", err)
	}
	// The cache still works after Keep, and reopens.
	download(t, dir, c, "c")
	c2, err := objcache.Open(root, cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if !c2.Has(a) || !c2.Has(sum("c")) {
		t.Error("reopened cache lost objects")
	}
}

// TestKeepDropsMany drops more objects than one directory read returns,
// concurrently, and keeps exactly the ones asked for.
func TestKeepDropsMany(t *testing.T) {
	ctx := context.Background()
	dir, _, c := setup(t)
	keep := map[string]bool{}
	var all []string
	for i := range 600 {
		h := download(t, dir, c, strconv.Itoa(i))
		all = append(all, h)
		if i%7 == 0 {
			keep[h] = true
		}
	}
	if err := c.Keep(ctx, keep); err != nil {
		t.Fatal(err)
	}
	for _, h := range all {
		if c.Has(h) != keep[h] {
			t.Errorf("%s: Has %v, want %v", h[:12], c.Has(h), keep[h])
		}
	}
}

func TestOpenKeepsPartialsAndSweepsTemps(t *testing.T) {
	dir, root, c := setup(t)
	h := sum("resume me")
	partial := filepath.Join(dir, c.PartialPath(h))
	if err := os.WriteFile(partial, []byte("resume"), 0o600); err != nil {
		t.Fatal(err)
	}
	temp := filepath.Join(dir, cacheDir, "partial", ".hoist-tmp-"+h+"-0011223344556677")
	if err := os.WriteFile(temp, []byte("half a copy"), 0o444); err != nil {
		t.Fatal(err)
	}
	c2, err := objcache.Open(root, cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if got, err := os.ReadFile(partial); err != nil || string(got) != "resume" {
		t.Errorf("partial download after reopen: %q, %v", got, err)
	}
	if _, err := os.Lstat(temp); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temp copy left after reopen: %v", err)
	}
	if c2.Has(h) {
		t.Error("a partial download counts as cached")
	}
}

// TestReplace fills the cache with a release of more files than one batch
// in one directory, and a few more in others, while it drops the objects
// of the release before; a file changed since it was verified is left
// out, and the rest still happens.
func TestReplace(t *testing.T) {
	ctx := context.Background()
	dir, root, c := setup(t)
	old := download(t, dir, c, "only in the old release")
	shared := download(t, dir, c, "in both")
	stale := filepath.Join(dir, c.PartialPath(sum("torn")))
	if err := os.WriteFile(stale, []byte("to"), 0o600); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"rel/shared": shared}
	write := func(p, data string, mode fs.FileMode) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		files[p] = sum(data)
	}
	write("rel/shared", "in both", 0o644)
	for i := range 150 {
		write("rel/big/f"+strconv.Itoa(i), "big "+strconv.Itoa(i), 0o644)
	}
	write("rel/tool", "#!/bin/sh", 0o755)
	write("top", "at the root", 0o600)
	write("rel/changed", "as verified", 0o644)
	if err := os.WriteFile(filepath.Join(dir, "rel/changed"), []byte("written since"), 0o644); err != nil {
		t.Fatal(err)
	}

	err := c.Replace(ctx, root, files)
	if !errors.Is(err, objcache.ErrMismatch) || !strings.Contains(err.Error(), "rel/changed") {
		t.Errorf("Replace with a changed file: %v, want ErrMismatch naming it", err)
	}
	entries, err := os.ReadDir(filepath.Join(dir, cacheDir))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for p, h := range files {
		if p != "rel/changed" {
			want[h] = true
		}
	}
	for _, ent := range entries {
		if ent.Name() == "partial" {
			continue
		}
		if !want[ent.Name()] {
			t.Errorf("cache holds %s, not in the release", ent.Name()[:12])
		}
		delete(want, ent.Name())
	}
	if len(want) != 0 || c.Has(old) || c.Has(sum("as verified")) {
		t.Errorf("after Replace: %d objects missing, old kept %v, changed file cached %v", len(want), c.Has(old), c.Has(sum("as verified")))
	}
	if fi, err := os.Stat(filepath.Join(dir, cacheDir, files["rel/tool"])); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("object of rel/tool: %v, %v; want mode 0755", fi, err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, cacheDir, files["rel/big/f149"])); string(got) != "big 149" {
		t.Errorf("object of rel/big/f149 holds %q", got)
	}
	if leftovers, _ := os.ReadDir(filepath.Join(dir, cacheDir, "partial")); len(leftovers) != 0 {
		t.Errorf("Replace left %d entries in partial/", len(leftovers))
	}
}

// TestReplaceReusesOnlyUnlinkedObjects checks that Replace copies into the
// inodes of objects it drops, but never into one that another name links
// (a staging tree's, say): that tree's file keeps its content.
func TestReplaceReusesOnlyUnlinkedObjects(t *testing.T) {
	ctx := context.Background()
	dir, root, c := setup(t)
	spare := download(t, dir, c, "old, cache only")
	linked := download(t, dir, c, "old, also staged")
	d, err := os.Open(filepath.Join(dir, "rel"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := c.Link(ctx, linked, d, "staged", 0o644); err != nil {
		t.Fatal(err)
	}
	inode := func(p string) uint64 {
		t.Helper()
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	spareIno, linkedIno := inode(filepath.Join(dir, cacheDir, spare)), inode(filepath.Join(dir, "rel", "staged"))
	files := map[string]string{}
	for _, name := range []string{"a", "b", "c"} {
		if err := os.WriteFile(filepath.Join(dir, "rel", name), []byte("new "+name), 0o644); err != nil {
			t.Fatal(err)
		}
		files["rel/"+name] = sum("new " + name)
	}
	if err := c.Replace(ctx, root, files); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "rel", "staged")); err != nil || string(got) != "old, also staged" {
		t.Errorf("staged link to a dropped object: %q, %v", got, err)
	}
	if c.Has(spare) || c.Has(linked) {
		t.Errorf("dropped objects still named: %v %v", c.Has(spare), c.Has(linked))
	}
	reused := 0
	for p, h := range files {
		obj := filepath.Join(dir, cacheDir, h)
		if got, err := os.ReadFile(obj); err != nil || string(got) != "new "+path.Base(p) {
			t.Errorf("object of %s: %q, %v", p, got, err)
		}
		switch inode(obj) {
		case spareIno:
			reused++
		case linkedIno:
			t.Errorf("object of %s shares the inode of a staged file", p)
		}
	}
	if reused != 1 {
		t.Errorf("%d new objects reuse the dropped, unlinked object's inode; want 1", reused)
	}
}
