package manager

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hoist-dev/hoist/internal/account"
	"github.com/hoist-dev/hoist/internal/manager/managertest"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

const testPassword = "owner's long password"

// signInServer is a manager whose owner has set testPassword (cheaply
// hashed: the cost is measured, not tested).
func signInServer(t *testing.T) (*Server, *server) {
	t.Helper()
	root := managertest.NewRoot(t, "1.0.0")
	srv, logs := newServerOpt(t, root, releaserepo.New(t, managertest.WalkReleases()...).FileURL(), options{})
	setPassword(t, root, testPassword)
	return srv, &server{root: root, logs: logs}
}

func setPassword(t *testing.T, root, password string) {
	t.Helper()
	dir, err := os.OpenRoot(filepath.Join(root, "statuses"))
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	if err := account.SetPassword(dir, password, account.Params{Time: 1, MemoryKiB: 64, Threads: 1}); err != nil {
		t.Fatal(err)
	}
}

// req is one request to a Server's handler, as a browser or client sends it.
type req struct {
	method, path, body string
	header             map[string]string
	cookie             *http.Cookie
	remote             string // RemoteAddr; default 192.0.2.1:1234
	tls                bool
}

func (r req) do(t *testing.T, srv *Server) *http.Response {
	t.Helper()
	hr := httptest.NewRequest(r.method, "http://node.local:3006"+r.path, strings.NewReader(r.body))
	hr.RemoteAddr = "192.0.2.1:1234"
	if r.remote != "" {
		hr.RemoteAddr = r.remote
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	if r.cookie != nil {
		hr.AddCookie(r.cookie)
	}
	if r.tls {
		hr.TLS = &tls.ConnectionState{}
	}
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, hr)
	return w.Result()
}

func login(t *testing.T, srv *Server, password string) *http.Response {
	t.Helper()
	return req{method: "POST", path: "/v1/account/login", body: `{"password":"` + password + `"}`}.do(t, srv)
}

func sessionOf(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", sessionCookie, resp.Header)
	return nil
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestSignInAndOut(t *testing.T) {
	srv, _ := signInServer(t)
	state := func(c *http.Cookie) string {
		return body(t, req{method: "GET", path: "/v1/account", cookie: c}.do(t, srv))
	}
	if got := state(nil); got != `{"password_set":true,"signed_in":false}` {
		t.Errorf("account before sign-in: %s", got)
	}
	if resp := login(t, srv, "wrong password"); resp.StatusCode != 401 || len(resp.Cookies()) != 0 {
		t.Errorf("wrong password: %d %v", resp.StatusCode, resp.Cookies())
	}
	resp := login(t, srv, testPassword)
	if resp.StatusCode != 204 {
		t.Fatalf("login: %d %s", resp.StatusCode, body(t, resp))
	}
	c := sessionOf(t, resp)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure || len(c.Value) != 43 {
		t.Errorf("cookie %+v", c)
	}
	if got := state(c); got != `{"password_set":true,"signed_in":true}` {
		t.Errorf("account after sign-in: %s", got)
	}
	// The cookie opens every non-public route.
	for _, p := range []string{"/v1/system/info", "/v1/system/settings", "/metrics"} {
		if resp := (req{method: "GET", path: p, cookie: c}).do(t, srv); resp.StatusCode != 200 {
			t.Errorf("GET %s with the cookie: %d", p, resp.StatusCode)
		}
	}
	if resp := (req{method: "GET", path: "/v1/system/info", cookie: &http.Cookie{Name: sessionCookie, Value: "forged"}}).do(t, srv); resp.StatusCode != 401 {
		t.Errorf("forged cookie: %d", resp.StatusCode)
	}
	resp = req{method: "POST", path: "/v1/account/logout", cookie: c}.do(t, srv)
	if resp.StatusCode != 204 || sessionOf(t, resp).MaxAge >= 0 {
		t.Errorf("logout: %d %v", resp.StatusCode, resp.Cookies())
	}
	// The session is over on the server, whatever the browser keeps.
	if resp := (req{method: "GET", path: "/v1/system/info", cookie: c}).do(t, srv); resp.StatusCode != 401 {
		t.Errorf("after logout: %d", resp.StatusCode)
	}
}

func TestSignInWithoutPassword(t *testing.T) {
	root := managertest.NewRoot(t, "1.0.0")
	srv := newServer(t, root, releaserepo.New(t, managertest.WalkReleases()...).FileURL())
	if got := body(t, req{method: "GET", path: "/v1/account"}.do(t, srv)); got != `{"password_set":false,"signed_in":false}` {
		t.Errorf("account: %s", got)
	}
	if resp := login(t, srv, "anything at all"); resp.StatusCode != 409 {
		t.Errorf("login with no password set: %d", resp.StatusCode)
	}
}

// A cross-site page cannot use the owner's cookie to change anything;
// the bearer token works from anywhere, as API clients send no Origin.
func TestCrossOriginRefused(t *testing.T) {
	srv, _ := signInServer(t)
	c := sessionOf(t, login(t, srv, testPassword))
	bearer := "Bearer " + testToken
	tests := []struct {
		name   string
		header map[string]string
		cookie *http.Cookie
		want   int
	}{
		{"cross-site POST with the cookie", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, c, 403},
		{"cross-origin POST with the cookie (old browser)", map[string]string{"Origin": "https://evil.example"}, c, 403},
		{"same-origin POST with the cookie", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://node.local:3006"}, c, 409},
		{"POST with the cookie, no browser headers", nil, c, 409},
		{"cross-site POST with the bearer token", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example", "Authorization": bearer}, nil, 409},
	}
	for _, tt := range tests {
		// 409: no backup to roll back to, so the request got through.
		resp := req{method: "POST", path: "/v1/system/rollback", header: tt.header, cookie: tt.cookie}.do(t, srv)
		if resp.StatusCode != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.name, resp.StatusCode, body(t, resp), tt.want)
		}
	}
	// Login CSRF: a cross-site form cannot sign the browser in.
	resp := req{method: "POST", path: "/v1/account/login", body: `{"password":"` + testPassword + `"}`, header: map[string]string{"Sec-Fetch-Site": "cross-site"}}.do(t, srv)
	if resp.StatusCode != 403 || len(resp.Cookies()) != 0 {
		t.Errorf("cross-site login: %d %v", resp.StatusCode, resp.Cookies())
	}
}

func TestSessionCookieSecure(t *testing.T) {
	srv, _ := signInServer(t)
	loginWith := func(r req) bool {
		r.method, r.path, r.body = "POST", "/v1/account/login", `{"password":"`+testPassword+`"}`
		return sessionOf(t, r.do(t, srv)).Secure
	}
	https := map[string]string{"X-Forwarded-Proto": "https"}
	if !loginWith(req{tls: true}) {
		t.Error("not Secure over TLS")
	}
	if loginWith(req{header: https}) {
		t.Error("Secure on an untrusted X-Forwarded-Proto")
	}
	srv.cfg.TLSProxy = true
	if !loginWith(req{header: https}) {
		t.Error("not Secure behind a TLS proxy")
	}
	if loginWith(req{header: map[string]string{"X-Forwarded-Proto": "http"}}) {
		t.Error("Secure behind a proxy serving plain HTTP")
	}
}

// Failed logins are slowed per client: past the burst, 429 with
// Retry-After, even for the right password; another client is not held.
func TestLoginRateLimited(t *testing.T) {
	srv, _ := signInServer(t)
	attacker := func(password string) *http.Response {
		return req{method: "POST", path: "/v1/account/login", body: `{"password":"` + password + `"}`, remote: "198.51.100.7:4000"}.do(t, srv)
	}
	for i := range loginBurst {
		if resp := attacker("guess"); resp.StatusCode != 401 {
			t.Fatalf("guess %d: %d", i+1, resp.StatusCode)
		}
	}
	resp := attacker(testPassword)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "20" || len(resp.Cookies()) != 0 {
		t.Errorf("past the burst: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp := login(t, srv, testPassword); resp.StatusCode != 204 {
		t.Errorf("the owner, from another address: %d", resp.StatusCode)
	}
	// Behind the trusted proxy, clients are told apart by X-Forwarded-For.
	srv.cfg.TLSProxy = true
	viaProxy := req{method: "POST", path: "/v1/account/login", body: `{"password":"` + testPassword + `"}`, remote: "198.51.100.7:4000",
		header: map[string]string{"X-Forwarded-For": "203.0.113.9"}}
	if resp := viaProxy.do(t, srv); resp.StatusCode != 204 {
		t.Errorf("another client behind the proxy: %d", resp.StatusCode)
	}
}

// The hash never leaves the file: no answer and no log line carries it.
func TestPasswordHashNeverShown(t *testing.T) {
	srv, s := signInServer(t)
	data, err := os.ReadFile(filepath.Join(s.root, "statuses", account.Name))
	if err != nil {
		t.Fatal(err)
	}
	salt := strings.Split(string(data), "$")[4]
	c := sessionOf(t, login(t, srv, testPassword))
	login(t, srv, "wrong password")
	for _, p := range []string{"/v1/account", "/v1/system/settings", "/v1/system/info", "/metrics", "/statuses/account.json"} {
		if b := body(t, req{method: "GET", path: p, cookie: c}.do(t, srv)); strings.Contains(b, salt) || strings.Contains(b, testPassword) {
			t.Errorf("GET %s shows the hash or password", p)
		}
	}
	if l := s.logs.String(); strings.Contains(l, salt) || strings.Contains(l, testPassword) || !strings.Contains(l, "failed sign-in") {
		t.Errorf("log:\n%s", l)
	}
}

// A new password ends every session; so does removing the password file.
func TestPasswordChangeEndsSessions(t *testing.T) {
	srv, s := signInServer(t)
	c := sessionOf(t, login(t, srv, testPassword))
	info := func(c *http.Cookie) int {
		return req{method: "GET", path: "/v1/system/info", cookie: c}.do(t, srv).StatusCode
	}
	if code := info(c); code != 200 {
		t.Fatalf("signed in: %d", code)
	}
	setPassword(t, s.root, "a brand new password")
	if code := info(c); code != 401 {
		t.Errorf("old session after a password change: %d", code)
	}
	c = sessionOf(t, login(t, srv, "a brand new password"))
	if code := info(c); code != 200 {
		t.Fatalf("signed in again: %d", code)
	}
	if err := os.Remove(filepath.Join(s.root, "statuses", account.Name)); err != nil {
		t.Fatal(err)
	}
	if code := info(c); code != 401 {
		t.Errorf("session without a password file: %d", code)
	}
}

// Guesses sent at once are counted as they are checked: no more than the
// burst reach the password check.
func TestLoginRateLimitedConcurrently(t *testing.T) {
	srv, _ := signInServer(t)
	// A check slow enough (8 MiB) that every guess arrives during the first.
	if err := account.SetPassword(srv.dirs.Statuses, testPassword, account.Params{Time: 1, MemoryKiB: 8 << 10, Threads: 1}); err != nil {
		t.Fatal(err)
	}
	codes := make(chan int, 4*loginBurst)
	var wg sync.WaitGroup
	for range cap(codes) {
		wg.Go(func() {
			codes <- req{method: "POST", path: "/v1/account/login", body: `{"password":"guess"}`, remote: "198.51.100.7:4000"}.do(t, srv).StatusCode
		})
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[401] != loginBurst || count[429] != cap(codes)-loginBurst {
		t.Errorf("answers %v, want %d × 401 and the rest 429", count, loginBurst)
	}
}
