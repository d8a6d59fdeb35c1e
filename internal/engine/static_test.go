package engine_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/config"
	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/manifest"
	"github.com/hoist-dev/hoist/internal/repoauth"
	"github.com/hoist-dev/hoist/internal/testutil/nginx"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
	"github.com/hoist-dev/hoist/internal/testutil/treesnap"
)

// staticSite is a static release repository built by the real `hoist
// release publish` from the default releases, served by a real nginx.
type staticSite struct {
	repo  *releaserepo.Repo
	dir   string
	srv   *nginx.Server
	flags []string // more flags of hoist release publish
}

func newStaticSite(t *testing.T, flags []string, rels ...releaserepo.Release) *staticSite {
	t.Helper()
	s := &staticSite{repo: releaserepo.New(t), dir: filepath.Join(t.TempDir(), "site"), flags: flags}
	for _, rel := range rels {
		s.publish(t, rel)
	}
	s.srv = nginx.Start(t, s.dir, "")
	return s
}

// publish adds rel to the git work tree (which signs it) and publishes
// that tree to the site.
func (s *staticSite) publish(t *testing.T, rel releaserepo.Release) {
	t.Helper()
	s.repo.Add(t, rel)
	s.hoist(t, append([]string{"release", "publish", "--key", s.repo.KeyFile, "--out", s.dir, s.repo.Dir}, s.flags...)...)
}

func (s *staticSite) hoist(t *testing.T, args ...string) {
	t.Helper()
	f := &fixture{t: t}
	if r := f.exec(nil, args...); r.Code != 0 {
		t.Fatalf("hoist %v: %s", args, r)
	}
}

// objects returns the object paths requested since request n.
func (s *staticSite) objects(n int) []string {
	var got []string
	for _, r := range s.srv.Requests()[n:] {
		if strings.HasPrefix(r.URI, "/objects/") {
			got = append(got, strings.TrimPrefix(r.URI, "/objects/"))
		}
	}
	slices.Sort(got)
	return got
}

// newStaticFixture inits a root on a site holding v1.0.0 and v1.1.0 and
// applies v1.0.0.
func newStaticFixture(t *testing.T) (*fixture, *staticSite) {
	t.Helper()
	site := newStaticSite(t, nil, releaserepo.DefaultReleases()[:2]...)
	f := initStatic(t, site)
	f.must("apply", "--to", "v1.0.0")
	return f, site
}

// initStatic inits a root on site and checks that init saw a static
// repository.
func initStatic(t *testing.T, site *staticSite) *fixture {
	t.Helper()
	f := &fixture{t: t, repo: site.repo, root: filepath.Join(t.TempDir(), "app")}
	if r := f.exec(nil, "init", f.root, "--repo", site.srv.URL, "--pub", site.repo.PubFile); r.Code != 0 {
		t.Fatalf("hoist init: %s", r)
	}
	if !strings.Contains(f.read(".hoist/config.json"), `"kind": "static"`) {
		t.Fatalf("init did not detect the static repository: %s", f.read(".hoist/config.json"))
	}
	return f
}

// TestStaticUpdateFetchesOnlyChangedObjects: v1.0.0 → v1.1.0 from nginx
// requests exactly the objects whose content v1.0.0 lacks.
func TestStaticUpdateFetchesOnlyChangedObjects(t *testing.T) {
	f, site := newStaticFixture(t)
	if got := f.read("app/config.yml"); got != "version: 1.0.0\n" {
		t.Fatalf("v1.0.0 installed app/config.yml %q", got)
	}
	old := sums(t, filepath.Join(site.dir, "targets/v1.0.0/hoist-release.json"))
	var want []string
	for _, sum := range sums(t, filepath.Join(site.dir, "targets/v1.1.0/hoist-release.json")) {
		if !slices.Contains(old, sum) && !slices.Contains(want, sum) {
			want = append(want, sum)
		}
	}
	slices.Sort(want)
	n := len(site.srv.Requests())
	f.must("apply", "--to", "v1.1.0")
	if got := f.read("app/config.yml"); got != "version: 1.1.0\n" {
		t.Errorf("v1.1.0 installed app/config.yml %q", got)
	}
	if _, err := os.Stat(f.path("app/legacy.txt")); !os.IsNotExist(err) {
		t.Errorf("app/legacy.txt, only in v1.0.0, is still there: %v", err)
	}
	if got := site.objects(n); !slices.Equal(got, want) {
		t.Errorf("the update fetched objects\n%v\nwant only the changed ones\n%v", got, want)
	}
}

// TestStaticRefuses: tampered objects, an expired or rolled-back
// timestamp.json are refused (exit 4), the root byte-identical to v1.0.0
// and data/ unchanged.
func TestStaticRefuses(t *testing.T) {
	tests := []struct {
		name   string
		attack func(t *testing.T, f *fixture, site *staticSite)
		want   string
	}{
		{"tampered object", func(t *testing.T, f *fixture, site *staticSite) {
			site.editObject(t, func(data []byte) []byte { return []byte(strings.ReplaceAll(string(data), "1.1.0", "6.6.6")) })
		}, "does not match"},
		{"object longer than signed", func(t *testing.T, f *fixture, site *staticSite) {
			site.editObject(t, func(data []byte) []byte { return append(data, strings.Repeat("x", 1<<20)...) })
		}, "does not match"},
		{"tampered targets metadata", func(t *testing.T, f *fixture, site *staticSite) {
			site.publish(t, releaserepo.DefaultReleases()[2]) // targets version 3
			p := filepath.Join(site.dir, "metadata/3.targets.json")
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			tampered := strings.Replace(string(data), "Release 2.0.0", "Release 6.6.6", 1)
			if tampered == string(data) {
				t.Fatal("nothing to tamper with in 3.targets.json")
			}
			if err := os.WriteFile(p, []byte(tampered), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "targets"},
		{"expired timestamp", func(t *testing.T, f *fixture, site *staticSite) {
			site.hoist(t, "release", "refresh", "--key", site.repo.KeyFile, "--out", site.dir, "--expires", "1s")
			time.Sleep(1100 * time.Millisecond)
		}, "release metadata expired on"},
		{"rolled-back timestamp", func(t *testing.T, f *fixture, site *staticSite) {
			p := filepath.Join(site.dir, "metadata/timestamp.json")
			old, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			site.hoist(t, "release", "refresh", "--key", site.repo.KeyFile, "--out", site.dir)
			// The engine refreshes, and so trusts the new timestamp, before
			// it finds there is no v9.9.9.
			if r := f.hoist("apply", "--to", "v9.9.9"); r.Code != exitcode.Rejected || !strings.Contains(r.Stderr, "no such release") {
				t.Fatalf("apply --to v9.9.9: %s", r)
			}
			if err := os.WriteFile(p, old, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, site := newStaticFixture(t)
			if err := os.WriteFile(f.path("data/keep.txt"), []byte("mine"), 0o644); err != nil {
				t.Fatal(err)
			}
			before := f.snap(".hoist/cache", ".hoist/tuf")
			tt.attack(t, f, site)
			r := f.hoist("apply", "--to", "v1.1.0")
			if r.Code != exitcode.Rejected || !strings.Contains(r.Stderr, tt.want) {
				t.Fatalf("apply: exit %d, want %d with %q: %s", r.Code, exitcode.Rejected, tt.want, r.Stderr)
			}
			treesnap.Same(t, "the root", f.snap(".hoist/cache", ".hoist/tuf"), before)
			if got := f.read("data/keep.txt"); got != "mine" {
				t.Errorf("data/keep.txt = %q", got)
			}
		})
	}
}

// editObject changes, on the server, an object v1.1.0 has and v1.0.0
// lacks, so that updating from v1.0.0 must download it.
func (s *staticSite) editObject(t *testing.T, edit func([]byte) []byte) {
	t.Helper()
	old := sums(t, filepath.Join(s.dir, "targets/v1.0.0/hoist-release.json"))
	for _, sum := range sums(t, filepath.Join(s.dir, "targets/v1.1.0/hoist-release.json")) {
		if slices.Contains(old, sum) {
			continue
		}
		p := filepath.Join(s.dir, "objects", sum)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, edit(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("v1.1.0 has no object v1.0.0 lacks")
}

// sums returns the sha256 of every regular file of a manifest.
func sums(t *testing.T, manifestFile string) []string {
	t.Helper()
	data, err := os.ReadFile(manifestFile)
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range m.Files {
		if !e.IsLink() {
			out = append(out, e.SHA256)
		}
	}
	return out
}

// TestStaticToken: token_file's token reaches the static host with every
// request of an apply, metadata and objects alike, and no status file.
func TestStaticToken(t *testing.T) {
	const token = "ghp_StaticToken0123456789"
	site := newStaticSite(t, nil, releaserepo.DefaultReleases()[:1]...)
	f := initStatic(t, site)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.editConfig(func(c *config.Config) { c.TokenFile = tokenFile })
	n := len(site.srv.Requests())
	f.must("apply", "--to", "v1.0.0")
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(repoauth.User+":"+token))
	var paths []string
	for _, r := range site.srv.Requests()[n:] {
		paths = append(paths, r.URI)
		if r.Authorization != basic {
			t.Errorf("%s was requested with Authorization %q", r.URI, r.Authorization)
		}
	}
	if !slices.ContainsFunc(paths, func(p string) bool { return strings.HasPrefix(p, "/objects/") }) {
		t.Errorf("no object requested: %v", paths)
	}
	public, _ := filepath.Glob(f.path("statuses/*"))
	for _, name := range public {
		if data, _ := os.ReadFile(name); strings.Contains(string(data), token) {
			t.Errorf("%s shows the token", name)
		}
	}
}

// TestStaticResumesAfterFailure: an apply that fails on one object keeps
// the objects it finished, so the next apply, from a server without Range
// support, requests only what is left; the root stays as it was meanwhile.
func TestStaticResumesAfterFailure(t *testing.T) {
	site := newStaticSite(t, nil, releaserepo.DefaultReleases()[:1]...)
	sum := sums(t, filepath.Join(site.dir, "targets/v1.0.0/hoist-release.json"))
	broken := sum[len(sum)-1]
	// A second nginx on the same files fails that one object for good.
	failing := nginx.Start(t, site.dir, "location = /objects/"+broken+" { return 503; }")
	f := initStatic(t, site)
	f.editConfig(func(c *config.Config) {
		zero := 0
		c.Repo, c.DownloadRetries = failing.URL, &zero
	})
	before := f.snap(".hoist/cache", ".hoist/tuf")
	if r := f.hoist("apply", "--to", "v1.0.0"); r.Code == 0 || !strings.Contains(r.Stderr, "503") {
		t.Fatalf("apply with an object failing: %s", r)
	}
	treesnap.Same(t, "the root", f.snap(".hoist/cache", ".hoist/tuf"), before)
	finished := map[string]bool{} // objects the first apply completed
	entries, err := os.ReadDir(f.path(".hoist/cache"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			finished[e.Name()] = true
		}
	}
	t.Logf("the first apply completed %d objects", len(finished))

	noRange := nginx.Start(t, site.dir, "max_ranges 0;")
	f.editConfig(func(c *config.Config) { c.Repo = noRange.URL })
	f.must("apply", "--to", "v1.0.0")
	site.srv = noRange
	got := site.objects(0)
	if !slices.Contains(got, broken) {
		t.Errorf("the second apply did not fetch the failed object: %v", got)
	}
	for _, name := range got {
		if finished[name] {
			t.Errorf("the second apply fetched %s again, finished by the first", name)
		}
	}
}

// TestStaticTargetsURL: with targets_url, the targets come from there (as
// from a GitHub release's downloads) and only metadata and objects from
// the repository.
func TestStaticTargetsURL(t *testing.T) {
	site := newStaticSite(t, nil, releaserepo.DefaultReleases()[:1]...)
	assets := filepath.Join(t.TempDir(), "download")
	if err := os.Rename(filepath.Join(site.dir, "targets"), assets); err != nil {
		t.Fatal(err)
	}
	downloads := nginx.Start(t, assets, "")
	f := &fixture{t: t, repo: site.repo, root: filepath.Join(t.TempDir(), "app")}
	if r := f.exec(nil, "init", f.root, "--repo", site.srv.URL, "--pub", site.repo.PubFile, "--targets-url", downloads.URL+"/"); r.Code != 0 {
		t.Fatalf("hoist init: %s", r)
	}
	f.must("apply", "--to", "v1.0.0")
	var got []string
	for _, r := range downloads.Requests() {
		got = append(got, r.URI)
	}
	slices.Sort(got)
	want := []string{"/v1.0.0/hoist-release.json", "/v1.0.0/hoist-release.json.minisig", "/v1.0.0/objects.json"}
	if !slices.Equal(got, want) {
		t.Errorf("requests for targets %v, want %v", got, want)
	}
}

// TestStaticStagesCopiesOfWhatItInstalls: the staging tree links from the
// object cache only the files the install leaves alone; each file the
// install puts in place is staged as a copy of its own (one link), which
// the install links into place instead of copying it once more, flushing
// each copy on its own.
func TestStaticStagesCopiesOfWhatItInstalls(t *testing.T) {
	rels := releaserepo.DefaultReleases()[:2]
	links := filepath.Join(t.TempDir(), "links")
	for _, rel := range rels {
		rel.Files["app/same.txt"] = releaserepo.File{Content: "in both releases\n"}
	}
	// 00-run.sh runs before the install.
	rels[1].Files["scripts/update/00-run.sh"] = releaserepo.Script(`cd "$HOIST_STAGING" && stat -c '%n %h' app/config.yml app/same.txt > ` + links)
	site := newStaticSite(t, nil, rels...)
	f := initStatic(t, site)
	f.must("apply", "--to", "v1.0.0")
	f.must("apply", "--to", "v1.1.0")
	data, err := os.ReadFile(links)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		name, n, _ := strings.Cut(line, " ")
		got[name] = n
	}
	if got["app/config.yml"] != "1" {
		t.Errorf("the changed app/config.yml was staged with %s links, want 1 (a copy)", got["app/config.yml"])
	}
	if got["app/same.txt"] == "1" {
		t.Errorf("the unchanged app/same.txt was staged as a copy, want a link to the cache")
	}
	if got := f.read("app/config.yml"); got != "version: 1.1.0\n" {
		t.Errorf("v1.1.0 installed app/config.yml %q", got)
	}
}

// The manager's discovery starts from the engine's trusted root: init and
// every apply copy it to statuses/, replacing whatever the manager put
// there (here a symlink to a file outside the root, which stays as it was).
func TestStaticPublishesTrustedRoot(t *testing.T) {
	site := newStaticSite(t, nil, releaserepo.DefaultReleases()[:1]...)
	f := initStatic(t, site)
	trusted := f.read(".hoist/tuf/root.json")
	if got := f.read("statuses/tuf-root.json"); got != trusted || !strings.Contains(got, `"_type"`) {
		t.Fatalf("after init statuses/tuf-root.json = %.80q, want the trusted root %.80q", got, trusted)
	}
	published := filepath.Join(f.root, "statuses", "tuf-root.json")
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(published); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, published); err != nil {
		t.Fatal(err)
	}
	f.must("apply", "--to", "v1.0.0")
	if fi, err := os.Lstat(published); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("statuses/tuf-root.json after apply: %v, %v; want a regular file", fi, err)
	}
	if got := f.read("statuses/tuf-root.json"); got != f.read(".hoist/tuf/root.json") {
		t.Errorf("after apply statuses/tuf-root.json = %.80q, want the trusted root", got)
	}
	if got, err := os.ReadFile(victim); err != nil || string(got) != "keep" {
		t.Errorf("the engine wrote through the manager's symlink: %q, %v", got, err)
	}
}
