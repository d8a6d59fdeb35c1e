package nginx

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestStartServesAndStops: a server started without a test's help serves
// its root, logs each request once it ends, and is gone after Stop.
func TestStartServesAndStops(t *testing.T) {
	s, _, body := serveObj(t, Config{})
	if string(body) != "0123456789" {
		t.Fatalf("body %q", body)
	}
	var reqs []Request
	var err error
	for deadline := time.Now().Add(10 * time.Second); len(reqs) == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if reqs, err = s.Requests(); err != nil {
			t.Fatal(err)
		}
	}
	want := Request{Method: "GET", URI: "/obj", Status: 200, BodyBytes: 10}
	if len(reqs) != 1 || reqs[0] != want {
		t.Fatalf("access log %+v, want [%+v]", reqs, want)
	}
	s.Stop()
	if Listening(s.URL[len("http://"):]) {
		t.Error("nginx still listening after Stop")
	}
}

// TestStartConfig: the http-level directives, log format and worker limits
// of a Config reach nginx: it starts with them, closes connections as the
// HTTP directive says and logs in the caller's format.
func TestStartConfig(t *testing.T) {
	s, resp, _ := serveObj(t, Config{
		HTTP:         "keepalive_timeout 0;",
		LogFormat:    "'$status $body_bytes_sent $uri'",
		Workers:      2,
		Connections:  1024,
		RlimitNofile: 4096,
	})
	if !resp.Close {
		t.Error("connection kept alive despite keepalive_timeout 0")
	}
	s.Stop() // flushes the log
	log, err := os.ReadFile(s.AccessLog())
	if err != nil {
		t.Fatal(err)
	}
	if string(log) != "200 10 /obj\n" {
		t.Errorf("access log %q, want %q", log, "200 10 /obj\n")
	}
}

// serveObj starts nginx with c on a root holding "obj", ten bytes, until
// the test ends, and GETs it; it skips the test where nginx is not
// installed.
func serveObj(t *testing.T, c Config) (*Server, *http.Response, []byte) {
	t.Helper()
	if _, err := os.Stat(Bin); err != nil {
		t.Skipf("nginx not installed: %v", err)
	}
	c.Root = t.TempDir()
	if err := os.WriteFile(filepath.Join(c.Root, "obj"), []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Start(context.Background(), t.TempDir(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	resp, err := http.Get(s.URL + "/obj")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return s, resp, body
}
