// Package releaserepo builds real release repositories for tests: a git
// repository (made with the real git CLI) whose tags vX.Y.Z hold release
// trees signed by the real `hoist release sign`, served over file:// or smart
// HTTP (git http-backend).
//
// Each Repo lives in its own t.TempDir() with its own key, and git runs with
// no system or global config, so tests in many packages can build repos in
// parallel on a fresh machine.
//
// The releases of DefaultReleases carry update scripts that record each run
// as one line in ROOT/data/script-log (ScriptLog); data/ is protected by the
// default config, so the log survives updates and rollbacks. A line reads
//
//	v1.1.0/01 release=v1.1.0 from=1.0.0 args=v1.1.0 /path/to/root
//
// naming the release the script came from, its number, then $HOIST_RELEASE,
// $HOIST_FROM and the script's two arguments. Each script also prints
// "::progress 50 <release>/<NN> halfway".
package releaserepo

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/gitserver"
	"github.com/hoist-dev/hoist/internal/release"
	"github.com/hoist-dev/hoist/internal/testutil/testbin"
)

// File is one file of a release tree: a symlink to Link when Link is set,
// else a regular file (Mode 0 means 0644).
type File struct {
	Content string
	Mode    fs.FileMode
	Link    string
}

// Script returns an executable shell script running body.
func Script(body string) File {
	return File{Content: "#!/bin/sh\n" + body + "\n", Mode: 0o755}
}

// Release is one tagged release.
type Release struct {
	Version     string // "1.1.0"; the tag is "v" + Version
	Requires    string // optional go-version constraint, e.g. ">=1.0.0"
	Name, Notes string // default "demo" and "Release X.Y.Z"
	App         string // the app id in info.json (default "demo")
	// Keys are the secret key files that sign the release, in order
	// (default: the repo's KeyFile). A hoist-keys.json among Files is
	// signed with them too.
	Keys  []string
	Files map[string]File
	// Lightweight tags the release without an annotation (default: annotated).
	Lightweight bool
	// Rollout is info.json's "rollout" as JSON, e.g. `{"percent":10}`.
	Rollout string
	// Changelog is info.json's "changelog" link (default: none).
	Changelog string
}

// Repo is a release repository; Dir is its work tree, which ends on branch
// main at the last release added.
type Repo struct {
	Dir     string
	KeyFile string // unencrypted minisign secret key made by `hoist release keygen`
	PubFile string
	PubKey  string // the key line, as in config.json "pubkeys"

	files  []string     // paths of the current release, to remove when the next one leaves them out
	served atomic.Int64 // bytes of the response bodies ServeHTTP sent
}

// New creates a repository holding releases, tagged in order.
func New(t testing.TB, releases ...Release) *Repo {
	t.Helper()
	base := t.TempDir()
	r := &Repo{
		Dir:     filepath.Join(base, "releases"),
		KeyFile: filepath.Join(base, "keys", "release.key"),
		PubFile: filepath.Join(base, "keys", "release.pub"),
	}
	if err := os.MkdirAll(filepath.Join(base, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(r.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, base, testbin.Path(t, "hoist"), "release", "keygen", "--out", strings.TrimSuffix(r.KeyFile, ".key"))
	var err error
	if r.PubKey, err = release.ReadPublicKeyFile(r.PubFile); err != nil {
		t.Fatal(err)
	}
	r.git(t, "init", "-q", "-b", "main")
	for _, rel := range releases {
		r.Add(t, rel)
	}
	return r
}

// Add commits rel on main as the next release and tags it.
func (r *Repo) Add(t testing.TB, rel Release) {
	t.Helper()
	if rel.Version == "" {
		t.Fatal("releaserepo: release without a version")
	}
	next := []string{approot.InfoFile}
	for p := range rel.Files {
		next = append(next, p)
	}
	for _, p := range r.files {
		if !slices.Contains(next, p) {
			removeWithEmptyParents(t, r.Dir, p)
		}
	}
	info := struct {
		Version   string          `json:"version"`
		App       string          `json:"app"`
		Name      string          `json:"name"`
		Notes     string          `json:"notes"`
		Requires  string          `json:"requires,omitempty"`
		Rollout   json.RawMessage `json:"rollout,omitempty"`
		Changelog string          `json:"changelog,omitempty"`
	}{rel.Version, cmp.Or(rel.App, "demo"), cmp.Or(rel.Name, "demo"), cmp.Or(rel.Notes, "Release "+rel.Version), rel.Requires, json.RawMessage(rel.Rollout), rel.Changelog}
	var data bytes.Buffer
	enc := json.NewEncoder(&data)
	enc.SetEscapeHTML(false) // keep ">=1.0.0" readable
	if err := enc.Encode(info); err != nil {
		t.Fatal(err)
	}
	writeFile(t, r.Dir, approot.InfoFile, File{Content: data.String()})
	for p, f := range rel.Files {
		writeFile(t, r.Dir, p, f)
	}
	r.files = next
	keys := rel.Keys
	if len(keys) == 0 {
		keys = []string{r.KeyFile}
	}
	args := []string{"release", "sign"}
	for _, k := range keys {
		args = append(args, "--key", k)
	}
	run(t, r.Dir, testbin.Path(t, "hoist"), append(args, r.Dir)...)
	tag := "v" + rel.Version
	r.git(t, "add", "-A")
	r.git(t, "commit", "-q", "--allow-empty", "-m", "Release "+tag)
	if rel.Lightweight {
		r.git(t, "tag", tag)
	} else {
		r.git(t, "tag", "-a", "-m", "Release "+tag, tag)
	}
}

// NewKey makes another unencrypted signing key, named name, with `hoist
// release keygen`, and returns its secret key file and key line.
func (r *Repo) NewKey(t testing.TB, name string) (keyFile, pubKey string) {
	t.Helper()
	prefix := filepath.Join(filepath.Dir(r.KeyFile), name)
	run(t, filepath.Dir(prefix), testbin.Path(t, "hoist"), "release", "keygen", "--out", prefix)
	pubKey, err := release.ReadPublicKeyFile(prefix + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return prefix + ".key", pubKey
}

// FileURL returns the file:// URL of the repository.
func (r *Repo) FileURL() string { return "file://" + r.Dir }

// ServeHTTP serves the repository over smart HTTP (git http-backend behind
// net/http/cgi) on 127.0.0.1 until the test ends, and returns its URL.
func (r *Repo) ServeHTTP(t testing.TB) string {
	t.Helper()
	return r.serveHTTP(t, "")
}

// ServeHTTPAuth is ServeHTTP for a private repository, as GitHub and Gitea
// serve one: every request needs basic auth with token as the password
// (any user name), else 401. It returns the URL without credentials.
func (r *Repo) ServeHTTPAuth(t testing.TB, token string) string {
	t.Helper()
	return r.serveHTTP(t, token)
}

func (r *Repo) serveHTTP(t testing.TB, token string) string {
	t.Helper()
	backend, err := gitserver.Backend(filepath.Dir(r.Dir))
	if err != nil {
		t.Skip(err)
	}
	counted := gitserver.CountBody(backend, &r.served)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if _, pass, _ := req.BasicAuth(); token != "" && pass != token {
			w.Header().Set("WWW-Authenticate", `Basic realm="releases"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		counted.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/" + filepath.Base(r.Dir)
}

// ServeStalled serves, on 127.0.0.1 until the test ends, a smart-HTTP git
// server that sends the headers and the start of a ref advertisement, then
// nothing: a stalled transfer. It returns the URL of its repository.
func ServeStalled(t testing.TB) string {
	t.Helper()
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
		w.Write([]byte("001e# service=git-upload-pack\n"))
		w.(http.Flusher).Flush()
		select {
		case <-req.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) }) // runs first: ends the handlers Close waits for
	return srv.URL + "/repo"
}

// BytesServed returns the bytes of the response bodies that ServeHTTP
// has sent so far: what clients downloaded.
func (r *Repo) BytesServed() int64 { return r.served.Load() }

// Tamper moves tag v+version to a commit whose tree edit has changed, without
// signing again: the release keeps its old manifest and signature. The tag
// keeps its kind (annotated or lightweight); main is left as it was.
func (r *Repo) Tamper(t testing.TB, version string, edit func(workTree string)) {
	t.Helper()
	tag := "v" + version
	kind := strings.TrimSpace(r.git(t, "cat-file", "-t", tag))
	r.git(t, "checkout", "-q", "--detach", tag)
	edit(r.Dir)
	r.git(t, "add", "-A")
	r.git(t, "commit", "-q", "--allow-empty", "-m", "Tampered "+tag)
	if kind == "tag" {
		r.git(t, "tag", "-f", "-a", "-m", "Release "+tag, tag)
	} else {
		r.git(t, "tag", "-f", tag)
	}
	r.git(t, "checkout", "-q", "main")
}

// ScriptLog is where the scripts of DefaultReleases record their runs,
// relative to the app root.
const ScriptLog = "data/script-log"

// ScriptRuns returns the lines of root's ScriptLog (none if it is missing).
func ScriptRuns(t testing.TB, root string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, ScriptLog))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// DefaultReleases returns v1.0.0, v1.1.0 and v2.0.0 (which requires
// >=1.1.0). Each has scripts/update/00-run.sh … 03-run.sh that log to
// ScriptLog, and app files: app/config.yml, the executable app/bin/app, the
// symlink app/current.yml -> config.yml, app/legacy.txt (1.0.0 only, so
// updating removes it) and app/new-in-2.txt (2.0.0 only). v1.0.0 is tagged
// lightweight, the others annotated.
func DefaultReleases() []Release {
	rels := []Release{
		{Version: "1.0.0", Lightweight: true, Files: map[string]File{"app/legacy.txt": {Content: "only in 1.0.0\n"}}},
		{Version: "1.1.0", Files: map[string]File{}},
		{Version: "2.0.0", Requires: ">=1.1.0", Files: map[string]File{"app/new-in-2.txt": {Content: "new in 2.0.0\n"}}},
	}
	for i := range rels {
		v := rels[i].Version
		rels[i].Files["app/config.yml"] = File{Content: "version: " + v + "\n"}
		rels[i].Files["app/bin/app"] = Script("echo app " + v)
		rels[i].Files["app/current.yml"] = File{Link: "config.yml"}
		for n := range 4 {
			rels[i].Files[fmt.Sprintf("scripts/update/%02d-run.sh", n)] = LoggingScript(v, n)
		}
	}
	return rels
}

// LoggingScript is update script NN of release version that logs its run to
// ScriptLog (see the package comment) and succeeds.
func LoggingScript(version string, n int) File {
	id := fmt.Sprintf("v%s/%02d", version, n)
	return Script(`set -e
echo "::progress 50 ` + id + ` halfway"
mkdir -p "$HOIST_ROOT/data"
printf '%s release=%s from=%s args=%s %s\n' "` + id + `" "$HOIST_RELEASE" "$HOIST_FROM" "$1" "$2" >> "$HOIST_ROOT/` + ScriptLog + `"`)
}

func writeFile(t testing.TB, dir, p string, f File) {
	t.Helper()
	full := filepath.Join(dir, filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(full); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if f.Link != "" {
		if err := os.Symlink(f.Link, full); err != nil {
			t.Fatal(err)
		}
		return
	}
	mode := f.Mode
	if mode == 0 {
		mode = 0o644
	}
	if err := os.WriteFile(full, []byte(f.Content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(full, mode); err != nil { // whatever the umask
		t.Fatal(err)
	}
}

func removeWithEmptyParents(t testing.TB, dir, p string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, filepath.FromSlash(p))); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for d := filepath.Dir(p); d != "."; d = filepath.Dir(d) {
		if os.Remove(filepath.Join(dir, d)) != nil {
			return // not empty
		}
	}
}

func (r *Repo) git(t testing.TB, args ...string) string {
	t.Helper()
	return run(t, r.Dir, "git", append([]string{
		"-c", "user.name=hoist test", "-c", "user.email=test@hoist.invalid",
		"-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false",
		"-c", "gc.auto=0", "-c", "maintenance.auto=false", "-c", "advice.detachedHead=false",
		"-c", "core.autocrlf=false",
	}, args...)...)
}

// GitEnv is the environment of git and hoist runs: no inherited GIT_*
// variables and no system or global git config.
func GitEnv() []string { return gitserver.Env() }

func run(t testing.TB, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = GitEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}
