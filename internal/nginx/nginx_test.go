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
	if _, err := os.Stat(Bin); err != nil {
		t.Skipf("nginx not installed: %v", err)
	}
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "obj"), []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Start(context.Background(), t.TempDir(), Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	resp, err := http.Get(s.URL + "/obj")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(body) != "0123456789" {
		t.Fatalf("body %q, %v", body, err)
	}
	var reqs []Request
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
	if _, err := os.Stat(Bin); err != nil {
		t.Skipf("nginx not installed: %v", err)
	}
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "obj"), []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Start(context.Background(), t.TempDir(), Config{
		Root:         root,
		HTTP:         "keepalive_timeout 0;",
		LogFormat:    "'$status $body_bytes_sent $uri'",
		Workers:      2,
		Connections:  1024,
		RlimitNofile: 4096,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	resp, err := http.Get(s.URL + "/obj")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
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
