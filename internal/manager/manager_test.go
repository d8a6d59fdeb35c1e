package manager

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/discovery"
	"github.com/hoist-dev/hoist/internal/httpcache"
	"github.com/hoist-dev/hoist/internal/logging"
	"github.com/hoist-dev/hoist/internal/manager/managertest"
	"github.com/hoist-dev/hoist/internal/rollbackfile"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
	"github.com/hoist-dev/hoist/internal/testutil/syncbuf"
)

const testToken = "s3cret-token-for-tests"

func writeFile(t testing.TB, name, data string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// server is a manager running in this process on a loopback port.
type server struct {
	url  string
	root string
	logs *syncbuf.Buffer
}

type options struct {
	fetchTimeout  time.Duration
	checkInterval time.Duration
	autoUpdate    bool
	maxConns      int
	idleTimeout   time.Duration
}

// start runs a manager for root reading releases until the test ends.
func start(t testing.TB, root, releases string, opt options) *server {
	t.Helper()
	srv, logs := newServerOpt(t, root, releases, opt)
	return run(t, srv, root, logs)
}

// newServer is a manager for root reading releases, not running yet.
func newServer(t testing.TB, root, releases string) *Server {
	t.Helper()
	srv, _ := newServerOpt(t, root, releases, options{})
	return srv
}

func newServerOpt(t testing.TB, root, releases string, opt options) (*Server, *syncbuf.Buffer) {
	t.Helper()
	src, err := discovery.Detect(releases, "", httpcache.NewMemory(), discovery.PublishedRoot(filepath.Join(root, "statuses")))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncbuf.Buffer{}
	log, err := logging.New(logs, "text")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{
		Root:          root,
		Token:         testToken,
		Finder:        discovery.NewFinder(src, time.Second, opt.fetchTimeout),
		Log:           log,
		CheckInterval: opt.checkInterval,
		AutoUpdate:    opt.autoUpdate,
		Poll:          time.Hour, // events must come through fsnotify
		MaxConns:      opt.maxConns,
		IdleTimeout:   opt.idleTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Close()
		if t.Failed() {
			t.Logf("manager log:\n%s", logs.String())
		}
	})
	return srv, logs
}

// run serves srv on a loopback port until the test ends.
func run(t testing.TB, srv *Server, root string, logs *syncbuf.Buffer) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		// Run waits for its watcher, which empties the cache as it ends.
		if srv.status.cur.Load() != nil {
			t.Error("the status cache outlived the watcher")
		}
	})
	return &server{url: "http://" + ln.Addr().String(), root: root, logs: logs}
}

// call makes one request; token "" sends no Authorization header.
func call(t testing.TB, method, url, token, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(data)
}

// errorOf returns the "error" of a JSON error answer, failing the test if
// the body is not one.
func errorOf(t testing.TB, body string) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
		t.Errorf("not a JSON error answer: %q", body)
	}
	return e.Error
}

func TestAuth(t *testing.T) {
	root := managertest.NewRoot(t, "1.5.0")
	s := start(t, root, releaserepo.New(t, managertest.WalkReleases()...).FileURL(), options{})
	protected := []struct{ method, path string }{
		{"GET", "/v1/system/info"},
		{"GET", "/v1/system/get-update"},
		{"POST", "/v1/system/update"},
		{"GET", "/v1/system/events"},
		{"GET", "/v1/system/update-log"},
		{"POST", "/v1/system/rollback"},
		{"GET", "/metrics"},
	}
	for _, p := range protected {
		for _, tok := range []string{"", "wrong", testToken + "x", testToken[:5]} {
			code, h, body := call(t, p.method, s.url+p.path, tok, "")
			if code != http.StatusUnauthorized {
				t.Errorf("%s %s with token %q: %d, want 401", p.method, p.path, tok, code)
				continue
			}
			errorOf(t, body)
			if !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s: no WWW-Authenticate", p.method, p.path)
			}
		}
	}
	// Not "Basic", not the token without the scheme.
	for _, h := range []string{testToken, "Basic " + testToken, "bearer" + testToken} {
		req, _ := http.NewRequest("GET", s.url+"/v1/system/info", nil)
		req.Header.Set("Authorization", h)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: %d", h, resp.StatusCode)
		}
	}
	if code, _, _ := call(t, "GET", s.url+"/v1/system/info", testToken, ""); code != http.StatusOK {
		t.Errorf("right token: %d", code)
	}
	for _, p := range []string{"/v1/system/update-status", "/healthz", "/", "/static/app.js", "/static/style.css"} {
		if code, _, body := call(t, "GET", s.url+p, "", ""); code != http.StatusOK {
			t.Errorf("public %s: %d %s", p, code, body)
		}
	}
}

func TestInfo(t *testing.T) {
	root := managertest.NewRoot(t, "")
	s := start(t, root, releaserepo.New(t, managertest.WalkReleases()...).FileURL(), options{})
	code, _, body := call(t, "GET", s.url+"/v1/system/info", testToken, "")
	if code != http.StatusNotFound || errorOf(t, body) != "no release installed" {
		t.Errorf("no release: %d %s", code, body)
	}
	// On the host the manager falls back to ROOT/info.json ...
	writeFile(t, filepath.Join(root, "info.json"), `{"version":"1.0.0","name":"host","extra":true}`)
	code, h, body := call(t, "GET", s.url+"/v1/system/info", testToken, "")
	if code != http.StatusOK || body != `{"version":"1.0.0","name":"host","extra":true}`+"\n" || h.Get("Content-Type") != "application/json" {
		t.Errorf("fallback: %d %s %v", code, body, h)
	}
	// ... but the engine's copy in statuses/ is the truth in Docker.
	writeFile(t, filepath.Join(root, "statuses/info.json"), `{"version":"1.1.0","name":"copy"}`)
	if _, _, body := call(t, "GET", s.url+"/v1/system/info", testToken, ""); !strings.Contains(body, `"1.1.0"`) {
		t.Errorf("copy: %s", body)
	}
	writeFile(t, filepath.Join(root, "statuses/info.json"), `{"version":"garbage"}`)
	if code, _, body := call(t, "GET", s.url+"/v1/system/info", testToken, ""); code != http.StatusInternalServerError || strings.Contains(body, "garbage") {
		t.Errorf("bad copy: %d %s", code, body)
	}
}

// The brief's requires walk against a real repository behind git
// http-backend: 0.9.0 must go through 1.5.0 on the way to 2.0.0.
func TestGetUpdateRequiresWalk(t *testing.T) {
	url := releaserepo.New(t, managertest.WalkReleases()...).ServeHTTP(t)
	tests := []struct{ installed, want string }{
		{"0.9.0", `{"version":"1.5.0","name":"Bridge","notes":"A step on the way to 2.0.0.\nMigrates the database.","requires":">=0.9.0","intermediate":true,"latest":"2.0.0"}`},
		{"1.5.0", `{"version":"2.0.0","name":"Two","notes":"The big one","requires":">=1.5.0"}`},
		{"2.0.0", `{"message":"up-to-date"}`},
	}
	for _, tt := range tests {
		s := start(t, managertest.NewRoot(t, tt.installed), url, options{})
		code, _, body := call(t, "GET", s.url+"/v1/system/get-update", testToken, "")
		if code != http.StatusOK || strings.TrimSpace(body) != tt.want {
			t.Errorf("installed %s: %d %s\nwant %s", tt.installed, code, body, tt.want)
		}
	}
}

func TestUpdate(t *testing.T) {
	url := releaserepo.New(t, managertest.WalkReleases()...).FileURL()
	root := managertest.NewRoot(t, "0.9.0")
	s := start(t, root, url, options{})
	signal := filepath.Join(root, "events/signals/update")

	bad := []struct {
		method, body string
		code         int
		msg          string
	}{
		{"POST", `{"version":`, 400, `body must be empty or {"version":"vX.Y.Z"}`},
		{"POST", `{"version":"v1.5.0","force":true}`, 400, `body must be empty or {"version":"vX.Y.Z"}`},
		{"POST", `{"version":"v1.5.0"} {}`, 400, `body must be empty or {"version":"vX.Y.Z"}`},
		{"POST", `["v1.5.0"]`, 400, `body must be empty or {"version":"vX.Y.Z"}`},
		{"POST", `{"version":"v1.5"}`, 400, `"v1.5": not a release tag of the form vX.Y.Z`},
		{"POST", `{"version":"../../etc"}`, 400, `"v../../etc": not a release tag of the form vX.Y.Z`},
		{"POST", `{"version":"v2.0.0"}`, 400, `v2.0.0 requires ">=1.5.0", so it cannot be installed over the installed release (v0.9.0)`},
		{"POST", `{"version":"v0.9.0"}`, 400, `v0.9.0 is not newer than the installed release (v0.9.0)`},
		{"POST", `{"version":"v7.0.0"}`, 400, `v7.0.0: no such release`},
		{"POST", `{"version":"` + strings.Repeat("9", 5000) + `"}`, 413, "request body over 4096 bytes"},
		{"GET", "", 405, "method GET not allowed; use POST"},
		{"PUT", `{}`, 405, "method PUT not allowed; use POST"},
	}
	for _, b := range bad {
		code, h, body := call(t, b.method, s.url+"/v1/system/update", testToken, b.body)
		if code != b.code || errorOf(t, body) != b.msg {
			t.Errorf("%s %.40q: %d %s, want %d %q", b.method, b.body, code, body, b.code, b.msg)
		}
		if code == 405 && h.Get("Allow") != "POST" {
			t.Errorf("405 without Allow: %v", h)
		}
	}
	if _, err := os.Stat(signal); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused request wrote the signal: %v", err)
	}
	if st := managertest.ReadStatus(t, root); st != statusfile.Default() {
		t.Fatalf("a refused request wrote the status: %+v", st)
	}

	// Happy path: no body means get-update's answer.
	code, _, body := call(t, "POST", s.url+"/v1/system/update", testToken, "")
	if code != http.StatusOK || strings.TrimSpace(body) != `{"message":"Updating to v1.5.0"}` {
		t.Fatalf("update: %d %s", code, body)
	}
	want := statusfile.Status{State: statusfile.Installing, Progress: 0, Description: "Queued", UpdateTo: "v1.5.0"}
	if st := managertest.ReadStatus(t, root); st != want {
		t.Errorf("status %+v, want %+v", st, want)
	}
	if _, err := os.Stat(signal); err != nil {
		t.Errorf("update signal: %v", err)
	}

	// In progress: 409, whatever the body, and nothing changes.
	for _, b := range []string{"", `{"version":"v1.5.0"}`} {
		code, _, body = call(t, "POST", s.url+"/v1/system/update", testToken, b)
		if code != http.StatusConflict || errorOf(t, body) != "an update is already in progress" {
			t.Errorf("while installing: %d %s", code, body)
		}
	}
	if st := managertest.ReadStatus(t, root); st != want {
		t.Errorf("409 changed the status to %+v", st)
	}

	// After it failed, a version without "v" (as get-update writes it) is accepted.
	managertest.WriteStatus(t, root, statusfile.Status{State: statusfile.Failed, Progress: 30, Description: "boom", UpdateTo: "v1.5.0"})
	code, _, body = call(t, "POST", s.url+"/v1/system/update", testToken, `{"version":"1.5.0"}`)
	if code != http.StatusOK || !strings.Contains(body, "Updating to v1.5.0") {
		t.Errorf("retry: %d %s", code, body)
	}
}

func TestUpdateNothingToDo(t *testing.T) {
	root := managertest.NewRoot(t, "2.0.0")
	s := start(t, root, releaserepo.New(t, managertest.WalkReleases()...).FileURL(), options{})
	code, _, body := call(t, "POST", s.url+"/v1/system/update", testToken, "")
	if code != http.StatusBadRequest || errorOf(t, body) != "nothing to update to: already up to date" {
		t.Errorf("%d %s", code, body)
	}
}

// A release repository that is down or stalls gives a clear 502 in bounded
// time; a request already in progress is still a 409 without asking it.
func TestRepositoryDown(t *testing.T) {
	closed := managertest.ClosedPort(t)
	stalled := managertest.StallingListener(t)
	for name, tt := range map[string]struct{ url, reason string }{
		"closed":            {"http://" + closed + "/releases.git", "refused the connection"},
		"stalled":           {"http://" + stalled + "/releases.git", "did not answer in time"},
		"stalled template":  {"http://" + stalled + "/{ref}/info.json", "did not answer in time"},
		"missing directory": {"file://" + filepath.Join(t.TempDir(), "gone"), "does not exist"},
	} {
		t.Run(name, func(t *testing.T) {
			root := managertest.NewRoot(t, "0.9.0")
			s := start(t, root, tt.url, options{fetchTimeout: 500 * time.Millisecond})
			for _, method := range []string{"GET /v1/system/get-update", "POST /v1/system/update"} {
				m, path, _ := strings.Cut(method, " ")
				begin := time.Now()
				code, _, body := call(t, m, s.url+path, testToken, "")
				if code != http.StatusBadGateway || !strings.Contains(errorOf(t, body), tt.reason) {
					t.Errorf("%s: %d %s, want 502 saying %q", method, code, body, tt.reason)
				}
				if d := time.Since(begin); d > 5*time.Second {
					t.Errorf("%s took %v with a 500ms timeout", method, d)
				}
				if strings.Contains(body, "127.0.0.1") {
					t.Errorf("%s: the answer leaks the URL: %s", method, body)
				}
			}
			managertest.WriteStatus(t, root, statusfile.Status{State: statusfile.Installing, Progress: 5, UpdateTo: "v1.5.0"})
			if code, _, _ := call(t, "POST", s.url+"/v1/system/update", testToken, ""); code != http.StatusConflict {
				t.Errorf("in progress with the repository down: %d, want 409", code)
			}
		})
	}
}

func TestUpdateStatus(t *testing.T) {
	root := managertest.NewRoot(t, "1.0.0")
	s := start(t, root, releaserepo.New(t, managertest.WalkReleases()...).FileURL(), options{})
	url := s.url + "/v1/system/update-status"
	code, h, body := call(t, "GET", url, "", "")
	if code != 200 || strings.TrimSpace(body) != `{"state":"success","progress":100,"description":"","updateTo":""}` || h.Get("Content-Type") != "application/json" {
		t.Errorf("missing file: %d %s", code, body)
	}
	managertest.WriteStatus(t, root, statusfile.Status{State: statusfile.Installing, Progress: 42, Description: "Running 01-run.sh", UpdateTo: "v1.5.0"})
	awaitAnswer(t, url, 200, `{"state":"installing","progress":42,"description":"Running 01-run.sh","updateTo":"v1.5.0"}`)
	if code, _, _ := call(t, "POST", url, "", ""); code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", code)
	}
	if code, _, _ := call(t, "HEAD", url, "", ""); code != http.StatusOK {
		t.Errorf("HEAD: %d", code)
	}

	// Whatever replaces the file, the answer follows it as it did when the
	// file was read on each request.
	file := filepath.Join(root, "statuses", statusfile.Name)
	os.Remove(file)
	awaitAnswer(t, url, 200, `{"state":"success","progress":100,"description":"","updateTo":""}`)
	writeFile(t, file, `{"state":"exploded"}`) // written in place, not renamed
	if body := awaitAnswer(t, url, 500, ""); strings.Contains(body, "exploded") {
		t.Errorf("garbage status: %s", body)
	}
	os.Remove(file)
	elsewhere := filepath.Join(t.TempDir(), "status.json")
	writeFile(t, elsewhere, `{"state":"failed","progress":7,"description":"planted","updateTo":""}`)
	if err := os.Symlink(elsewhere, file); err != nil {
		t.Fatal(err)
	}
	if body := awaitAnswer(t, url, 500, ""); strings.Contains(body, "planted") {
		t.Errorf("symlinked status: %s", body)
	}
	os.Remove(file)
	managertest.WriteStatus(t, root, statusfile.Status{State: statusfile.Failed, Progress: 30, Description: "boom", UpdateTo: "v1.5.0"})
	awaitAnswer(t, url, 200, `{"state":"failed","progress":30,"description":"boom","updateTo":"v1.5.0"}`)
}

// The manager's own write of the status (an update request) shows in the
// very next answer, without waiting for the watcher to notice it.
func TestUpdateStatusReadsOwnWrite(t *testing.T) {
	root := managertest.NewRoot(t, "0.9.0")
	srv := newServer(t, root, releaserepo.New(t, managertest.WalkReleases()...).FileURL())
	// Serve from memory with no watcher running: only the manager's own
	// refresh can change the answer.
	srv.status.setLive(true)
	srv.status.refresh()
	managertest.WriteStatus(t, root, statusfile.Status{State: statusfile.Failed, Progress: 30, Description: "boom", UpdateTo: "v1.5.0"})
	h := srv.Handler()
	get := func() string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/system/update-status", nil))
		return strings.TrimSpace(rec.Body.String())
	}
	if got, want := get(), `{"state":"success","progress":100,"description":"","updateTo":""}`; got != want {
		t.Fatalf("answered %s before any refresh, want the cached %s", got, want)
	}
	req := httptest.NewRequest("POST", "/v1/system/update", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("update: %d %s", rec.Code, rec.Body)
	}
	if got, want := get(), `{"state":"installing","progress":0,"description":"Queued","updateTo":"v1.5.0"}`; got != want {
		t.Errorf("after the update request: %s, want %s", got, want)
	}
	// Stopped, the cache holds nothing and the file is read again.
	srv.status.setLive(false)
	managertest.WriteStatus(t, root, statusfile.Default())
	if got, want := get(), `{"state":"success","progress":100,"description":"","updateTo":""}`; got != want {
		t.Errorf("not live: %s, want %s", got, want)
	}
}

// Without fsnotify the manager reads the status on each request, so the
// answer never lags the file behind the (here hour-long) poll.
func TestUpdateStatusWithoutWatcher(t *testing.T) {
	root := managertest.NewRoot(t, "1.0.0")
	srv, logs := newServerOpt(t, root, releaserepo.New(t, managertest.WalkReleases()...).FileURL(), options{})
	// The manager keeps its descriptor of statuses/, but fsnotify cannot
	// add the directory's old name any more.
	moved := filepath.Join(root, "moved")
	if err := os.Rename(filepath.Join(root, "statuses"), moved); err != nil {
		t.Fatal(err)
	}
	dir, err := os.OpenRoot(moved)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	s := run(t, srv, root, logs)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "cannot watch the status file"); {
		if time.Now().After(deadline) {
			t.Fatal("the manager did not say it cannot watch the status file")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i := range 5 {
		st := statusfile.Status{State: statusfile.Installing, Progress: i * 10, Description: fmt.Sprintf("step %d", i), UpdateTo: "v1.5.0"}
		if err := statusfile.Write(dir, st); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf(`{"state":"installing","progress":%d,"description":"step %d","updateTo":"v1.5.0"}`, i*10, i)
		if code, _, body := call(t, "GET", s.url+"/v1/system/update-status", "", ""); code != 200 || strings.TrimSpace(body) != want {
			t.Errorf("GET right after the write: %d %s, want %s", code, body, want)
		}
	}
}

// awaitAnswer GETs url until it answers code with body want (any body if
// want is ""), and returns the body. A status written by another process
// reaches the manager through its watcher, so the answer may lag the file
// briefly, as the event streams do.
func awaitAnswer(t testing.TB, url string, code int, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, _, body := call(t, "GET", url, "", "")
		if c == code && (want == "" || strings.TrimSpace(body) == want) {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %d %s, want %d %s", url, c, body, code, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// events returns a reader of the event stream and a function reading the
// next "status" event's data.
func events(t *testing.T, url string) func() statusfile.Status {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/v1/system/events", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %v", resp.StatusCode, resp.Header)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return func() statusfile.Status {
		t.Helper()
		event := ""
		timeout := time.After(10 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatal("event stream ended")
				}
				switch {
				case strings.HasPrefix(l, "event: "):
					event = strings.TrimPrefix(l, "event: ")
				case strings.HasPrefix(l, "data: ") && event == "status":
					st, err := statusfile.Parse([]byte(strings.TrimPrefix(l, "data: ")))
					if err != nil {
						t.Fatalf("bad event data %q: %v", l, err)
					}
					return st
				}
			case <-timeout:
				t.Fatal("no status event within 10s")
			}
		}
	}
}

// Every change of the status file arrives, in order, on every stream.
func TestEvents(t *testing.T) {
	root := managertest.NewRoot(t, "0.9.0")
	s := start(t, root, releaserepo.New(t, managertest.WalkReleases()...).FileURL(), options{})
	a, b := events(t, s.url), events(t, s.url)
	for _, next := range []func() statusfile.Status{a, b} {
		if st := next(); st != statusfile.Default() {
			t.Errorf("first event %+v, want the current (default) status", st)
		}
	}
	var want []statusfile.Status
	for i := range 12 {
		st := statusfile.Status{State: statusfile.Installing, Progress: i * 8, Description: fmt.Sprintf("step %d", i), UpdateTo: "v1.5.0"}
		want = append(want, st)
	}
	want = append(want, statusfile.Status{State: statusfile.Success, Progress: 100, Description: "Updated to v1.5.0"})
	for _, st := range want {
		managertest.WriteStatus(t, root, st)
		time.Sleep(30 * time.Millisecond)
	}
	for name, next := range map[string]func() statusfile.Status{"a": a, "b": b} {
		for i, w := range want {
			if got := next(); got != w {
				t.Fatalf("stream %s, event %d: %+v, want %+v", name, i, got, w)
			}
		}
	}
}

func TestUpdateLog(t *testing.T) {
	root := managertest.NewRoot(t, "1.5.0")
	s := start(t, root, releaserepo.New(t, managertest.WalkReleases()...).FileURL(), options{})
	code, _, body := call(t, "GET", s.url+"/v1/system/update-log", testToken, "")
	if code != http.StatusNoContent || body != "" {
		t.Errorf("no report: %d %q", code, body)
	}
	report := "step: scripts\nscript: 01-run.sh\nexit status 3\nlast output:\n  boom\n"
	writeFile(t, filepath.Join(root, "statuses/last-failure.log"), report)
	code, h, body := call(t, "GET", s.url+"/v1/system/update-log", testToken, "")
	if code != 200 || body != report || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Errorf("report: %d %q %v", code, body, h)
	}
	// A huge report is cut to its tail, which says what failed last.
	writeFile(t, filepath.Join(root, "statuses/last-failure.log"), strings.Repeat("x", 2*maxLog)+"THE END\n")
	_, _, body = call(t, "GET", s.url+"/v1/system/update-log", testToken, "")
	if len(body) != maxLog || !strings.HasSuffix(body, "THE END\n") {
		t.Errorf("huge report: %d bytes, ends %q", len(body), body[len(body)-10:])
	}
	// A symlink planted in statuses/ is not followed.
	os.Remove(filepath.Join(root, "statuses/last-failure.log"))
	if err := os.Symlink("/etc/passwd", filepath.Join(root, "statuses/last-failure.log")); err != nil {
		t.Fatal(err)
	}
	if code, _, body := call(t, "GET", s.url+"/v1/system/update-log", testToken, ""); code != 500 || strings.Contains(body, "root:") {
		t.Errorf("symlink: %d %q", code, body)
	}
}

func TestRollback(t *testing.T) {
	root := managertest.NewRoot(t, "1.5.0")
	s := start(t, root, releaserepo.New(t, managertest.WalkReleases()...).FileURL(), options{})
	// The engine has published no backup: nothing to roll back to.
	code, _, body := call(t, "POST", s.url+"/v1/system/rollback", testToken, "")
	if code != http.StatusConflict || strings.TrimSpace(body) != `{"error":"no backup to roll back to"}` {
		t.Errorf("rollback without a backup: %d %s", code, body)
	}
	if _, err := os.Stat(filepath.Join(root, "events/signals/rollback")); err == nil {
		t.Error("signal written without a backup")
	}
	managertest.WriteRollback(t, root, rollbackfile.State{Backups: []string{"0.9.0"}})
	code, _, body = call(t, "POST", s.url+"/v1/system/rollback", testToken, "")
	if code != http.StatusAccepted || strings.TrimSpace(body) != `{"message":"Rolling back"}` {
		t.Errorf("rollback: %d %s", code, body)
	}
	if _, err := os.Stat(filepath.Join(root, "events/signals/rollback")); err != nil {
		t.Error(err)
	}
	os.Remove(filepath.Join(root, "events/signals/rollback"))
	managertest.WriteStatus(t, root, statusfile.Status{State: statusfile.Installing, Progress: 50, UpdateTo: "v2.0.0"})
	if code, _, _ := call(t, "POST", s.url+"/v1/system/rollback", testToken, ""); code != http.StatusConflict {
		t.Errorf("while installing: %d", code)
	}
	if _, err := os.Stat(filepath.Join(root, "events/signals/rollback")); err == nil {
		t.Error("signal written while installing")
	}
	if code, _, _ := call(t, "GET", s.url+"/v1/system/rollback", testToken, ""); code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", code)
	}
}

func TestMetrics(t *testing.T) {
	root := managertest.NewRoot(t, "0.9.0")
	s := start(t, root, releaserepo.New(t, managertest.WalkReleases()...).FileURL(), options{})
	call(t, "GET", s.url+"/v1/system/get-update", testToken, "")
	call(t, "GET", s.url+"/v1/system/update-status", "", "")
	managertest.WriteStatus(t, root, statusfile.Status{State: statusfile.Installing, Progress: 37, UpdateTo: "v1.5.0"})
	code, h, body := call(t, "GET", s.url+"/metrics", testToken, "")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %v", code, h)
	}
	for _, want := range []string{
		`hoist_manager_installed_version_info{version="0.9.0"} 1`,
		`hoist_manager_available_version_info{latest="2.0.0",version="1.5.0"} 1`,
		`hoist_manager_update_state{state="installing"} 1`,
		`hoist_manager_update_state{state="success"} 0`,
		`hoist_manager_update_progress 37`,
		`hoist_manager_last_check_success 1`,
		`hoist_manager_last_check_timestamp_seconds `,
		`hoist_manager_http_requests_total{code="200",handler="/v1/system/update-status",method="get"} 1`,
		`hoist_manager_http_requests_total{code="200",handler="/v1/system/get-update",method="get"} 1`,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestPageAndStatic(t *testing.T) {
	s := start(t, managertest.NewRoot(t, "1.0.0"), releaserepo.New(t, managertest.WalkReleases()...).FileURL(), options{})
	code, h, body := call(t, "GET", s.url+"/", "", "")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(body, `id="update-button"`) {
		t.Errorf("page: %d %v", code, h)
	}
	for _, hdr := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
		if h.Get(hdr) == "" {
			t.Errorf("page lacks %s", hdr)
		}
	}
	if !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("CSP %q", h.Get("Content-Security-Policy"))
	}
	code, h, _ = call(t, "GET", s.url+"/static/app.js", "", "")
	if code != 200 || !strings.Contains(h.Get("Content-Type"), "javascript") {
		t.Errorf("app.js: %d %v", code, h)
	}
	for _, p := range []string{"/static/", "/static/nope.js", "/static/../manager.go", "/static/index.html", "/nothing", "/v1/system/nothing", "/v1/system/info/extra"} {
		code, _, body := call(t, "GET", s.url+p, testToken, "")
		if code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, code)
		} else {
			errorOf(t, body)
		}
	}
	code, _, body = call(t, "GET", s.url+"/healthz", "", "")
	if code != 200 || strings.TrimSpace(body) != `{"status":"ok"}` {
		t.Errorf("healthz: %d %s", code, body)
	}
}

// Hostile input never crashes the manager: after all of it, it still answers.
func TestHostileInput(t *testing.T) {
	root := managertest.NewRoot(t, "0.9.0")
	s := start(t, root, releaserepo.New(t, managertest.WalkReleases()...).FileURL(), options{})
	bodies := []string{"", "\x00\xff", `{"version":null}`, `{"version":1}`, `{"version":"v1.5.0\u0000"}`, strings.Repeat("[", 10000), `{"version":"v99999999999.0.0"}`}
	for _, p := range []string{"/v1/system/update", "/v1/system/rollback", "/v1/system/get-update", "/metrics", "/%2e%2e/etc/passwd", "/v1/system/update-status?x=" + strings.Repeat("a", 3000)} {
		for _, m := range []string{"GET", "POST", "DELETE", "OPTIONS", "PATCH"} {
			for _, b := range bodies {
				code, _, body := call(t, m, s.url+p, testToken, b)
				if code >= 500 {
					t.Errorf("%s %s %.20q: %d %s", m, p, b, code, body)
				}
			}
		}
		managertest.WriteStatus(t, root, statusfile.Default())
	}
	// A status file with garbage is a 500 with no detail, not a crash.
	writeFile(t, filepath.Join(root, "statuses/update-status.json"), `{"state":"exploded"}`)
	if body := awaitAnswer(t, s.url+"/v1/system/update-status", 500, ""); strings.Contains(body, "exploded") {
		t.Errorf("garbage status: %s", body)
	}
	if code, _, _ := call(t, "GET", s.url+"/healthz", "", ""); code != 503 && code != 500 {
		t.Errorf("healthz with a garbage status: %d", code)
	}
}

// With --auto-update the periodic check requests the update by itself, and
// does not request again a release whose update failed.
func TestAutoUpdate(t *testing.T) {
	root := managertest.NewRoot(t, "0.9.0")
	s := start(t, root, releaserepo.New(t, managertest.WalkReleases()...).FileURL(), options{checkInterval: 100 * time.Millisecond, autoUpdate: true})
	signal := filepath.Join(root, "events/signals/update")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(signal); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no automatic request; log:\n%s", s.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := managertest.ReadStatus(t, root); st.UpdateTo != "v1.5.0" || st.Description != "Queued" {
		t.Errorf("status %+v", st)
	}
	os.Remove(signal)
	managertest.WriteStatus(t, root, statusfile.Status{State: statusfile.Failed, Progress: 20, Description: "boom", UpdateTo: "v1.5.0"})
	time.Sleep(500 * time.Millisecond) // several intervals
	if _, err := os.Stat(signal); err == nil {
		t.Error("a failed automatic update was requested again")
	}
	if !strings.Contains(s.logs.String(), "not requesting again") {
		t.Errorf("log does not say why:\n%s", s.logs.String())
	}
}

// Clients get maxStreams event streams, all of them: the manager's own
// watcher (the notifier) takes none. One more is refused with 503.
func TestEventStreamsAllForClients(t *testing.T) {
	s := start(t, managertest.NewRoot(t, "1.0.0"), releaserepo.New(t, managertest.WalkReleases()...).FileURL(), options{})
	for range maxStreams {
		events(t, s.url)()
	}
	if code, _, body := call(t, "GET", s.url+"/v1/system/events", testToken, ""); code != http.StatusServiceUnavailable {
		t.Errorf("stream %d: %d %s, want 503", maxStreams+1, code, body)
	}
}
