package discovery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-version"

	"github.com/hoist-dev/hoist/internal/httpcache"
	"github.com/hoist-dev/hoist/internal/infofile"
	"github.com/hoist-dev/hoist/internal/manager/managertest"
	"github.com/hoist-dev/hoist/internal/tag"
	"github.com/hoist-dev/hoist/internal/testutil/hugeblob"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

func v(s string) *version.Version {
	if s == "" {
		return nil
	}
	return version.Must(version.NewSemver(s))
}

// sources serves one release repository in every way a Source reads one.
func sources(t *testing.T, rels ...releaserepo.Release) map[string]Source {
	t.Helper()
	repo := releaserepo.New(t, rels...)
	out := map[string]Source{}
	for name, url := range map[string]string{
		"file":     repo.FileURL(),
		"http":     repo.ServeHTTP(t),
		"template": serveTemplate(t, rels) + "/{ref}/info.json",
	} {
		src, err := Open(url, "")
		if err != nil {
			t.Fatalf("Open(%s): %v", url, err)
		}
		out[name] = src
	}
	return out
}

// serveTemplate serves rels' info.json like a raw file host: /REF/info.json,
// with HEAD the last release.
func serveTemplate(t *testing.T, rels []releaserepo.Release) string {
	t.Helper()
	files := map[string]string{}
	for i, r := range rels {
		body := fmt.Sprintf(`{"version":%q,"name":%q,"notes":%q,"requires":%q}`, r.Version, r.Name, r.Notes, r.Requires)
		files["/v"+r.Version+"/info.json"] = body
		if i == len(rels)-1 {
			files["/HEAD/info.json"] = body
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRequiresWalk(t *testing.T) {
	bridge := &Update{Version: "1.5.0", Name: "Bridge", Notes: "A step on the way to 2.0.0.\nMigrates the database.", Requires: ">=0.9.0", Intermediate: true, Latest: "2.0.0"}
	two := &Update{Version: "2.0.0", Name: "Two", Notes: "The big one", Requires: ">=1.5.0"}
	tests := []struct {
		installed string
		want      *Update // nil: up to date
	}{
		{"0.9.0", bridge},
		{"1.0.0", bridge},
		{"1.5.0", two},
		{"1.7.3", two},
		{"2.0.0", nil},
		{"3.1.0", nil},
		{"", two},
	}
	for name, src := range sources(t, managertest.WalkReleases()...) {
		t.Run(name, func(t *testing.T) {
			f := NewFinder(src, 0, 10*time.Second)
			for _, tt := range tests {
				got, err := f.Next(context.Background(), v(tt.installed))
				if err != nil {
					t.Fatalf("installed %q: %v", tt.installed, err)
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("installed %q: got %+v, want %+v", tt.installed, got, tt.want)
				}
			}
		})
	}
}

func TestRequiresWalkSeveralSteps(t *testing.T) {
	rels := []releaserepo.Release{
		{Version: "0.5.0"},
		{Version: "0.9.0", Requires: ">=0.5.0"},
		{Version: "1.5.0", Requires: ">=0.9.0"},
		{Version: "2.0.0", Requires: ">=1.5.0"},
	}
	for name, src := range sources(t, rels...) {
		t.Run(name, func(t *testing.T) {
			got, err := NewFinder(src, 0, 0).Next(context.Background(), v("0.5.0"))
			if err != nil || got == nil || got.Version != "0.9.0" || !got.Intermediate || got.Latest != "2.0.0" {
				t.Errorf("got %+v, %v; want 0.9.0 on the way to 2.0.0", got, err)
			}
		})
	}
}

// A requires that no release can satisfy ends the walk with "up to date",
// as in Umbrel, instead of looping or failing.
func TestRequiresWalkDeadEnd(t *testing.T) {
	rels := []releaserepo.Release{
		{Version: "0.9.0"},
		{Version: "2.0.0", Requires: ">=1.5.0"}, // there is no 1.x
	}
	repo := releaserepo.New(t, rels...)
	src, err := Open(repo.FileURL(), "")
	if err != nil {
		t.Fatal(err)
	}
	f := NewFinder(src, 0, 0)
	got, err := f.Next(context.Background(), v("0.9.0"))
	if err != nil || got != nil {
		t.Errorf("got %+v, %v; want up to date", got, err)
	}
	if _, err := f.Target(context.Background(), v("0.9.0"), ""); !errors.Is(err, ErrUpToDate) {
		t.Errorf("Target: %v, want ErrUpToDate", err)
	}
}

// The template source cannot list tags: a step to a release the constraint
// names but the server lacks is a clear error, not "up to date".
func TestTemplateStepMissing(t *testing.T) {
	url := serveTemplate(t, []releaserepo.Release{{Version: "2.0.0", Requires: ">=1.5.0"}})
	src, err := Open(url+"/{ref}/info.json", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewFinder(src, 0, 0).Next(context.Background(), v("0.9.0"))
	var fe *FetchError
	if !errors.As(err, &fe) || !strings.Contains(fe.Reason, "v1.5.0, required by v2.0.0, does not exist") {
		t.Errorf("err = %v", err)
	}
}

func TestTarget(t *testing.T) {
	for name, src := range sources(t, managertest.WalkReleases()...) {
		t.Run(name, func(t *testing.T) {
			f := NewFinder(src, time.Minute, 0)
			tests := []struct {
				installed, want string
				tag             string
				err             error
			}{
				{"0.9.0", "", "v1.5.0", nil},
				{"1.5.0", "", "v2.0.0", nil},
				{"2.0.0", "", "", ErrUpToDate},
				{"0.9.0", "v1.5.0", "v1.5.0", nil},
				{"0.9.0", "v2.0.0", "", ErrIncompatible},
				{"1.5.0", "v1.5.0", "", ErrNotNewer},
				{"1.5.0", "v0.9.0", "", ErrNotNewer},
				{"1.5.0", "v3.0.0", "", ErrNoSuchRelease},
				{"1.5.0", "2.0.0", "", tag.ErrInvalid},
				{"1.5.0", "v2.0.0; rm -rf /", "", tag.ErrInvalid},
				{"", "v0.9.0", "v0.9.0", nil},
			}
			for _, tt := range tests {
				got, err := f.Target(context.Background(), v(tt.installed), tt.want)
				if got != tt.tag || !errors.Is(err, tt.err) {
					t.Errorf("Target(%q, %q) = %q, %v; want %q, %v", tt.installed, tt.want, got, err, tt.tag, tt.err)
				}
			}
		})
	}
}

func TestTags(t *testing.T) {
	rels := append([]releaserepo.Release{{Version: "0.1.0", Lightweight: true}}, managertest.WalkReleases()...)
	for name, src := range sources(t, rels...) {
		if name == "template" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			got, err := src.Tags(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != "[0.1.0 0.9.0 1.5.0 2.0.0]" {
				t.Errorf("tags = %v", got)
			}
		})
	}
}

func TestReleaseVersionsIgnoresOtherRefs(t *testing.T) {
	got := releaseVersions([]string{
		"HEAD", "refs/heads/main", "refs/tags/v1.0.0", "refs/tags/v1.0.0^{}", "refs/tags/latest",
		"refs/tags/v1.2", "refs/tags/v0.3.0", "refs/tags/v01.0.0", "refs/heads/v9.9.9",
	})
	if fmt.Sprint(got) != "[0.3.0 1.0.0]" {
		t.Errorf("got %v", got)
	}
}

// An info.json at a tag that names another version is the repository's
// fault: a 502-style FetchError.
func TestInfoVersionMustMatchTag(t *testing.T) {
	repo := releaserepo.New(t, managertest.WalkReleases()...)
	repo.Tamper(t, "1.5.0", func(dir string) {
		if err := os.WriteFile(filepath.Join(dir, "info.json"), []byte(`{"version":"1.4.0"}`), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	src, err := Open(repo.FileURL(), "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewFinder(src, 0, 0).Next(context.Background(), v("0.9.0"))
	var fe *FetchError
	if !errors.As(err, &fe) || !errors.Is(err, ErrBadInfo) || !strings.Contains(fe.Reason, "invalid info.json") {
		t.Errorf("err = %v", err)
	}
}

func TestUnreachable(t *testing.T) {
	closed := managertest.ClosedPort(t)
	stalled := managertest.StallingListener(t)
	tests := []struct {
		name, url string
		reason    string
	}{
		{"refused git", "http://" + closed + "/r.git", "refused the connection"},
		{"refused template", "http://" + closed + "/{ref}/info.json", "refused the connection"},
		{"stalled git", "http://" + stalled + "/r.git", "did not answer in time"},
		{"stalled template", "http://" + stalled + "/{ref}/info.json", "did not answer in time"},
		{"missing local", "file://" + filepath.Join(t.TempDir(), "nothing"), "does not exist"},
		{"not found http", serveTemplate(t, nil) + "/{ref}/info.json", "answered 404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := Open(tt.url, "")
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = NewFinder(src, 0, 500*time.Millisecond).Next(context.Background(), v("1.0.0"))
			var fe *FetchError
			if !errors.As(err, &fe) || !strings.Contains(fe.Reason, tt.reason) {
				t.Fatalf("err = %v, want a FetchError saying %q", err, tt.reason)
			}
			if strings.Contains(fe.Reason, "127.0.0.1") || strings.Contains(fe.Reason, "/tmp") {
				t.Errorf("reason %q leaks the URL", fe.Reason)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v despite a 500ms timeout", d)
			}
		})
	}
}

// The cache answers repeated and concurrent questions with one read, and
// asks again once the answer is older than the TTL.
func TestCache(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		time.Sleep(50 * time.Millisecond) // let concurrent callers pile up
		fmt.Fprint(w, `{"version":"2.0.0"}`)
	}))
	defer srv.Close()
	src, err := Open(srv.URL+"/{ref}/info.json", "")
	if err != nil {
		t.Fatal(err)
	}
	f := NewFinder(src, 300*time.Millisecond, 0)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if u, err := f.Next(context.Background(), v("1.0.0")); err != nil || u == nil || u.Version != "2.0.0" {
				t.Errorf("Next = %+v, %v", u, err)
			}
		})
	}
	wg.Wait()
	if n := hits.Load(); n != 1 {
		t.Errorf("20 concurrent checks made %d requests, want 1", n)
	}
	time.Sleep(350 * time.Millisecond)
	f.Next(context.Background(), v("1.0.0"))
	if n := hits.Load(); n != 2 {
		t.Errorf("after the TTL: %d requests, want 2", n)
	}
}

// A caller that gives up gets its own error at once; the shared read goes on.
func TestCacheCallerCancel(t *testing.T) {
	stalled := managertest.StallingListener(t)
	src, err := Open("http://"+stalled+"/{ref}/info.json", "")
	if err != nil {
		t.Fatal(err)
	}
	f := NewFinder(src, time.Minute, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := f.Next(ctx, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Error("the caller waited for the shared read")
	}
}

// A clone larger than the limit is refused, not held in memory.
func TestCloneLimit(t *testing.T) {
	big := strings.Repeat("x", 64<<10)
	repo := releaserepo.New(t, releaserepo.Release{Version: "1.0.0", Files: map[string]releaserepo.File{"big.txt": {Content: big}}})
	src := remoteSource{url: repo.ServeHTTP(t), limit: 16 << 10, store: httpcache.NewMemory()}
	_, err := src.Info(context.Background(), "")
	if !errors.Is(err, errTooLarge) {
		t.Errorf("err = %v, want errTooLarge", err)
	}
	src.limit = maxClone
	if info, err := src.Info(context.Background(), "v1.0.0"); err != nil || info.Version != "1.0.0" {
		t.Errorf("Info = %+v, %v", info, err)
	}
}

func TestParseInfo(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{`{"version":"1.2.3"}`, true},
		{`{"version":"1.2.3","name":"n","notes":"x","requires":">=1.0.0, <2.0.0","extra":1}`, true},
		{`{"version":"v1.2.3"}`, false},
		{`{"version":"1.2"}`, false},
		{`{"version":"1.2.3","requires":"banana"}`, false},
		{`{"version":1}`, false},
		{`[]`, false},
		{`{"version":"1.2.3"`, false},
		{`{"version":"1.2.3","notes":"` + strings.Repeat("x", infofile.MaxSize) + `"}`, false},
	}
	for _, tt := range tests {
		_, err := ParseInfo([]byte(tt.in))
		if (err == nil) != tt.ok {
			t.Errorf("ParseInfo(%.40q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrBadInfo) {
			t.Errorf("ParseInfo(%.40q): %v is not ErrBadInfo", tt.in, err)
		}
	}
}

func TestInstalled(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if got, err := InstalledVersion(root); got != nil || err != nil {
		t.Errorf("empty root: %v, %v", got, err)
	}
	write := func(name, data string) {
		t.Helper()
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("info.json", `{"version":"1.0.0"}`)
	if got, _ := InstalledVersion(root); got.String() != "1.0.0" {
		t.Errorf("from info.json: %v", got)
	}
	// The engine's copy in statuses/ wins: in Docker it is the fresh one.
	write("statuses/info.json", `{"version":"1.1.0"}`)
	if got, _ := InstalledVersion(root); got.String() != "1.1.0" {
		t.Errorf("from statuses/info.json: %v", got)
	}
	write("statuses/info.json", `{"version":"junk"}`)
	if _, err := InstalledVersion(root); !errors.Is(err, ErrBadInfo) {
		t.Errorf("bad copy: %v", err)
	}
	os.Remove(filepath.Join(dir, "statuses/info.json"))
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "statuses/info.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := InstalledVersion(root); err == nil {
		t.Error("a symlink was followed")
	}
}

// A clone whose pack declares more than the limit is refused before its
// objects are inflated: a 256 MiB file of zeros (a few hundred KB on the
// wire) costs the manager almost no memory.
func TestCloneLimitBeforeInflating(t *testing.T) {
	urls := hugeblob.Served(t, 256<<20, "v9.0.0")
	for _, transport := range []string{"http", "git"} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := remoteSource{url: urls[transport], limit: maxClone, store: httpcache.NewMemory()}.Info(context.Background(), "")
		runtime.ReadMemStats(&after)
		if !errors.Is(err, errTooLarge) {
			t.Errorf("%s: err = %v, want errTooLarge", transport, err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
			t.Errorf("%s: the clone allocated %d MiB", transport, alloc>>20)
		}
	}
}

// get-update passes on a release's changelog link only when it is an
// absolute http(s) URL: the page links it, so javascript: must not reach it.
func TestChangelogOnlyHTTP(t *testing.T) {
	tests := []struct{ changelog, want string }{
		{"https://example.com/CHANGELOG.md#v2", "https://example.com/CHANGELOG.md#v2"},
		{"http://example.com/notes", "http://example.com/notes"},
		{"javascript:alert(1)", ""},
		{"data:text/html,hi", ""},
		{"/relative/path", ""},
		{"https:///no-host", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.changelog, func(t *testing.T) {
			body := fmt.Sprintf(`{"version":"2.0.0","changelog":%q}`, tt.changelog)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, body)
			}))
			t.Cleanup(srv.Close)
			src, err := Open(srv.URL+"/{ref}/info.json", "")
			if err != nil {
				t.Fatal(err)
			}
			got, err := NewFinder(src, 0, 0).Next(context.Background(), v("1.0.0"))
			if err != nil || got == nil {
				t.Fatalf("Next: %+v, %v", got, err)
			}
			if got.Changelog != tt.want {
				t.Errorf("changelog %q, want %q", got.Changelog, tt.want)
			}
		})
	}
}

// A server answering an error with an endless body fails the check after a
// bounded read, with the server's error, instead of the manager buffering
// the body until the deadline.
func TestRemoteEndlessErrorAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		chunk := []byte(strings.Repeat("x", 32<<10))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	src, err := Open(srv.URL+"/repo.git", "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err = src.Tags(ctx)
	took := time.Since(start)
	if err == nil || errors.Is(err, context.DeadlineExceeded) || took > 5*time.Second {
		t.Fatalf("after %v: err = %.200v, want the server's error after a bounded read", took, err)
	}
	if n := len(err.Error()); n > 128<<10 {
		t.Errorf("error message of %d bytes", n)
	}
}
