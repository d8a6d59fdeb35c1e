package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/hoist-dev/hoist/internal/objcache"
	"github.com/hoist-dev/hoist/internal/release"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// verify checks that dir holds exactly the signed release version.
func verify(t *testing.T, r *releaserepo.Repo, dir, version string) {
	t.Helper()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if _, err := release.VerifyDir(context.Background(), root, []string{r.PubKey}, version); err != nil {
		t.Fatalf("cloned tree does not verify: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, ".git")); err == nil {
		t.Error("clone holds .git")
	}
}

// noLeftovers fails if parent holds anything but want.
func noLeftovers(t *testing.T, parent string, want ...string) {
	t.Helper()
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("%s holds %v, want %v", parent, names, want)
	}
}

func TestClone(t *testing.T) {
	r := releaserepo.New(t, releaserepo.DefaultReleases()...)
	urls := map[string]string{"http": r.ServeHTTP(t), "file": r.FileURL(), "path": r.Dir}
	for name, url := range urls {
		for _, tag := range []string{"v1.0.0", "v2.0.0"} { // lightweight, annotated
			t.Run(name+"/"+tag, func(t *testing.T) {
				t.Parallel()
				parent := t.TempDir()
				dir := filepath.Join(parent, ".app-"+tag)
				if err := Clone(context.Background(), Options{URL: url, Tag: tag, Dir: dir}); err != nil {
					t.Fatal(err)
				}
				verify(t, r, dir, tag)
				noLeftovers(t, parent, ".app-"+tag)
			})
		}
	}
}

func TestCloneKeepsExactModesWhateverTheUmask(t *testing.T) {
	r := releaserepo.New(t, releaserepo.DefaultReleases()[0])
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "app")
	if err := Clone(context.Background(), Options{URL: r.FileURL(), Tag: "v1.0.0", Dir: dir}); err != nil {
		t.Fatal(err)
	}
	verify(t, r, dir, "1.0.0")
}

func TestCloneErrors(t *testing.T) {
	r := releaserepo.New(t, releaserepo.DefaultReleases()[0])
	httpURL := r.ServeHTTP(t)
	tests := []struct {
		name string
		o    Options
		want error
	}{
		{"missing tag over http", Options{URL: httpURL, Tag: "v9.9.9"}, ErrTagNotFound},
		{"missing tag on disk", Options{URL: r.FileURL(), Tag: "v9.9.9"}, ErrTagNotFound},
		{"not a tag", Options{URL: r.FileURL(), Tag: "main"}, nil},
		{"no repository", Options{URL: "file://" + t.TempDir(), Tag: "v1.0.0"}, git.ErrRepositoryNotExists},
		{"no repository over http", Options{URL: httpURL + "-missing", Tag: "v1.0.0"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			tt.o.Dir = filepath.Join(parent, "app")
			err := Clone(context.Background(), tt.o)
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			t.Log(err)
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			noLeftovers(t, parent)
		})
	}
}

func TestCloneRefusesExistingDir(t *testing.T) {
	r := releaserepo.New(t, releaserepo.DefaultReleases()[0])
	dir := t.TempDir() // exists, empty
	err := Clone(context.Background(), Options{URL: r.FileURL(), Tag: "v1.0.0", Dir: dir})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("err = %v, want ErrExists", err)
	}
}

func TestCloneRemovesStaleTempDirs(t *testing.T) {
	r := releaserepo.New(t, releaserepo.DefaultReleases()[0])
	parent := t.TempDir()
	stale := filepath.Join(parent, ".hoist-tmp-app-123")
	if err := os.MkdirAll(filepath.Join(stale, "half"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Clone(context.Background(), Options{URL: r.FileURL(), Tag: "v1.0.0", Dir: filepath.Join(parent, "app")}); err != nil {
		t.Fatal(err)
	}
	noLeftovers(t, parent, "app")
}

func TestCloneCancelled(t *testing.T) {
	r := releaserepo.New(t, releaserepo.DefaultReleases()[0])
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, url := range []string{r.ServeHTTP(t), r.FileURL()} {
		parent := t.TempDir()
		err := Clone(ctx, Options{URL: url, Tag: "v1.0.0", Dir: filepath.Join(parent, "app")})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: err = %v, want context.Canceled", url, err)
		}
		noLeftovers(t, parent)
	}
}

// stallingServers returns URLs of a server that accepts connections and never
// answers, and of one that sends headers and part of a body, then nothing.
func stallingServers(t *testing.T) (silent, midBody string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { <-done; c.Close() }()
		}
	}()
	return "http://" + ln.Addr().String() + "/repo", releaserepo.ServeStalled(t)
}

func TestCloneStalledServer(t *testing.T) {
	silent, midBody := stallingServers(t)
	for name, url := range map[string]string{"no answer": silent, "stops mid-body": midBody} {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			start := time.Now()
			err := Clone(context.Background(), Options{URL: url, Tag: "v1.0.0", Dir: filepath.Join(parent, "app"), StallTimeout: 300 * time.Millisecond})
			if !errors.Is(err, ErrStalled) {
				t.Fatalf("err = %v, want ErrStalled", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %s to notice the stall", d)
			}
			noLeftovers(t, parent)
		})
	}
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		err := Clone(ctx, Options{URL: silent, Tag: "v1.0.0", Dir: filepath.Join(t.TempDir(), "app")})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want DeadlineExceeded", err)
		}
	})
}

// TestCloneRefusesUnsafeTree feeds Clone trees that git itself would not
// make but a hostile repository can hold.
func TestCloneRefusesUnsafeTree(t *testing.T) {
	for _, name := range []string{"..", ".git", ".GIT", "a/b"} {
		t.Run(name, func(t *testing.T) {
			repoDir := t.TempDir()
			repo, err := git.PlainInit(repoDir, true)
			if err != nil {
				t.Fatal(err)
			}
			blob := store(t, repo, &object.Blob{}, "evil")
			tree := store(t, repo, &object.Tree{Entries: []object.TreeEntry{{Name: name, Mode: filemode.Regular, Hash: blob}}}, "")
			sig := object.Signature{Name: "x", Email: "x@x", When: time.Unix(0, 0)}
			commit := store(t, repo, &object.Commit{Author: sig, Committer: sig, TreeHash: tree, Message: "x"}, "")
			if err := repo.Storer.SetReference(plumbing.NewHashReference("refs/tags/v1.0.0", commit)); err != nil {
				t.Fatal(err)
			}
			parent := t.TempDir()
			err = Clone(context.Background(), Options{URL: repoDir, Tag: "v1.0.0", Dir: filepath.Join(parent, "app")})
			if err == nil || !strings.Contains(err.Error(), "unsafe name") {
				t.Fatalf("err = %v, want unsafe name", err)
			}
			noLeftovers(t, parent)
		})
	}
}

type encoder interface {
	Encode(plumbing.EncodedObject) error
}

// store writes obj (with content for a blob) into repo and returns its hash.
func store(t *testing.T, repo *git.Repository, obj encoder, content string) plumbing.Hash {
	t.Helper()
	o := repo.Storer.NewEncodedObject()
	if b, ok := obj.(*object.Blob); ok {
		_ = b
		o.SetType(plumbing.BlobObject)
		w, _ := o.Writer()
		w.Write([]byte(content))
		w.Close()
	} else if err := obj.Encode(o); err != nil {
		t.Fatal(err)
	}
	h, err := repo.Storer.SetEncodedObject(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// A release over MaxBytes is ErrTooLarge and leaves nothing: refused in
// the pack over HTTP (first clone, and incremental into a store, which
// keeps none of it), by the checkout of a local repository.
func TestCloneRefusesAReleaseOverMaxBytes(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 4<<10) // 64 KiB, deflated to little
	r := releaserepo.New(t, releaserepo.DefaultReleases()[0],
		releaserepo.Release{Version: "1.5.0", Files: map[string]releaserepo.File{"big.bin": {Content: big}}})
	url := r.ServeHTTP(t)
	store := filepath.Join(t.TempDir(), "objects")
	if err := Clone(context.Background(), Options{URL: url, Tag: "v1.0.0", Dir: filepath.Join(t.TempDir(), "app"), Store: store}); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, url, store string }{
		{"http", url, ""},
		{"http into a store", url, store},
		{"file", r.FileURL(), ""},
	}
	for _, tt := range tests {
		parent := t.TempDir()
		o := Options{URL: tt.url, Tag: "v1.5.0", Dir: filepath.Join(parent, "app"), Store: tt.store, MaxBytes: 48 << 10}
		if err := Clone(context.Background(), o); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: err = %v, want ErrTooLarge", tt.name, err)
		}
		noLeftovers(t, parent)
		if _, err := os.Stat(filepath.Join(store, "refs", "tags", "v1.5.0")); tt.store != "" && err == nil {
			t.Errorf("%s: the store took the pack in", tt.name)
		}
		o.MaxBytes = 96 << 10
		if err := Clone(context.Background(), o); err != nil {
			t.Errorf("%s, within the limit: %v", tt.name, err)
		}
	}
}

// TestCloneLinksCachedFiles clones with an object cache: the files whose
// manifest hash the cache has are its objects, linked; the rest come from
// git. The tree verifies either way.
func TestCloneLinksCachedFiles(t *testing.T) {
	r := releaserepo.New(t, releaserepo.DefaultReleases()[:2]...)
	parent := t.TempDir()
	first := filepath.Join(parent, "first")
	if err := Clone(context.Background(), Options{URL: r.FileURL(), Tag: "v1.1.0", Dir: first}); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(parent)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	cache, err := objcache.Open(root, "cache")
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	firstRoot, err := root.OpenRoot("first")
	if err != nil {
		t.Fatal(err)
	}
	defer firstRoot.Close()
	cached := map[string]string{}
	for _, p := range []string{"app/bin/app", "scripts/update/00-run.sh"} {
		data, err := os.ReadFile(filepath.Join(first, p))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		cached[p] = hex.EncodeToString(sum[:])
	}
	if err := cache.Add(context.Background(), firstRoot, cached); err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(parent, ".app-v1.1.0")
	if err := Clone(context.Background(), Options{URL: r.FileURL(), Tag: "v1.1.0", Dir: dir, Cache: cache}); err != nil {
		t.Fatal(err)
	}
	verify(t, r, dir, "1.1.0")
	for _, p := range []string{"app/bin/app", "scripts/update/00-run.sh", "app/config.yml", "scripts/update/01-run.sh"} {
		fi, err := os.Stat(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		obj, err := os.Stat(filepath.Join(parent, "cache", cached[p]))
		linked := err == nil && os.SameFile(fi, obj)
		if _, want := cached[p]; linked != want {
			t.Errorf("%s: linked from the cache %v, want %v", p, linked, want)
		}
	}
}

// A server answering an error with an endless body gets a clear error
// after a bounded read, not a clone that buffers it forever.
func TestCloneEndlessErrorAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	parent := t.TempDir()
	err := Clone(ctx, Options{URL: srv.URL + "/repo.git", Tag: "v1.0.0", Dir: filepath.Join(parent, "app"), StallTimeout: 10 * time.Second})
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the server's error after a bounded read", err)
	}
	if len(err.Error()) > 2*maxErrorBody {
		t.Errorf("error message of %d bytes", len(err.Error()))
	}
	noLeftovers(t, parent)
}
