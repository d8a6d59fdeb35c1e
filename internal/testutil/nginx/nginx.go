// Package nginx serves a directory with a real nginx (Debian's
// /usr/sbin/nginx) in tests, the way a static release repository or a CDN
// origin serves it: Range requests, ETag and Last-Modified, sendfile.
//
// Each Server runs its own master process with a config, pid file, temp
// directories and access log in a t.TempDir(), on a free loopback port, and
// is stopped when the test ends. The access log is written one JSON object
// per request, so tests can assert what was fetched (Requests).
package nginx

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/testutil/daemon"
)

// Bin is the nginx binary the tests run.
const Bin = "/usr/sbin/nginx"

// Server is a running nginx.
type Server struct {
	URL       string // http://127.0.0.1:PORT, without a trailing slash
	Root      string // the directory served at URL/
	Proc      *daemon.Process
	t         testing.TB
	accessLog string
}

// Request is one line of the access log.
type Request struct {
	Method string `json:"method"`
	URI    string `json:"uri"` // path and query as requested
	Status int    `json:"status"`
	// BodyBytes is what nginx sent of the body (for an aborted transfer,
	// what it had written to the socket).
	BodyBytes     int64  `json:"body_bytes"`
	Range         string `json:"range"` // the Range header, "" if none
	Authorization string `json:"authorization"`
	IfNoneMatch   string `json:"if_none_match"`
	IfModSince    string `json:"if_modified_since"`
}

// logFormat writes Request's fields; escape=json makes any header value a
// valid JSON string.
const logFormat = `'{"method":"$request_method","uri":"$request_uri","status":$status,` +
	`"body_bytes":$body_bytes_sent,"range":"$http_range","authorization":"$http_authorization",` +
	`"if_none_match":"$http_if_none_match","if_modified_since":"$http_if_modified_since"}'`

// Start serves root with nginx until the test ends. serverConfig, if not
// empty, is added inside the server block (e.g. "limit_rate 1m;" or a
// location with its own headers).
func Start(t testing.TB, root, serverConfig string) *Server {
	t.Helper()
	if _, err := os.Stat(Bin); err != nil {
		t.Skipf("nginx not installed: %v", err)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	prefix := t.TempDir()
	addr := freeAddr(t)
	s := &Server{URL: "http://" + addr, Root: abs, t: t, accessLog: filepath.Join(prefix, "access.log")}
	conf := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(conf, []byte(config(prefix, addr, abs, serverConfig)), 0o644); err != nil {
		t.Fatal(err)
	}
	// -e stderr: nginx opens its error log before it reads the config, and
	// the compiled-in one is not ours to write.
	s.Proc = daemon.Start(t, Bin, []string{"-p", prefix, "-c", conf, "-e", "stderr"}, nil)
	daemon.Eventually(t, "nginx listening on "+addr, func() bool {
		s.Proc.Alive()
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	return s
}

func config(prefix, addr, root, serverConfig string) string {
	var b strings.Builder
	b.WriteString("daemon off;\nworker_processes 1;\n")
	if os.Geteuid() == 0 {
		// Workers would otherwise run as nobody, who cannot read a
		// t.TempDir() (mode 0700).
		b.WriteString("user root;\n")
	}
	fmt.Fprintf(&b, "pid %s;\nerror_log stderr;\nevents { worker_connections 256; }\nhttp {\n", filepath.Join(prefix, "nginx.pid"))
	b.WriteString("  types { application/json json; application/gzip gz; }\n  default_type application/octet-stream;\n  sendfile on;\n")
	fmt.Fprintf(&b, "  log_format hoist escape=json %s;\n  access_log %s hoist;\n", logFormat, filepath.Join(prefix, "access.log"))
	for _, tmp := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&b, "  %s_temp_path %s;\n", tmp, filepath.Join(prefix, tmp))
	}
	fmt.Fprintf(&b, "  server {\n    listen %s;\n    root %s;\n%s\n  }\n}\n", addr, root, serverConfig)
	return b.String()
}

// freeAddr returns a loopback address with a port nobody listens on now.
// Another process may take it before nginx does; that is rare enough on a
// test machine to fail the test rather than retry.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Requests returns the requests nginx has logged so far, oldest first.
// nginx writes a line when a request ends, so a transfer still running (or
// one whose client vanished, until nginx notices) is not listed yet.
func (s *Server) Requests() []Request {
	s.t.Helper()
	data, err := os.ReadFile(s.accessLog)
	if err != nil && !os.IsNotExist(err) {
		s.t.Fatal(err)
	}
	var reqs []Request
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var r Request
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			s.t.Fatalf("access log line %q: %v", sc.Text(), err)
		}
		reqs = append(reqs, r)
	}
	return reqs
}

// WaitRequests waits until nginx has logged at least n requests and returns
// them. nginx logs a request just after its last byte is sent, so a client
// that has read a response may look at the log a moment too early.
func (s *Server) WaitRequests(n int) []Request {
	s.t.Helper()
	var reqs []Request
	daemon.Eventually(s.t, fmt.Sprintf("%d requests in nginx's access log", n), func() bool {
		reqs = s.Requests()
		return len(reqs) >= n
	})
	return reqs
}

// BodyBytes is the sum of the body bytes sent for requests of uri ("" for
// every request).
func (s *Server) BodyBytes(uri string) int64 {
	s.t.Helper()
	var n int64
	for _, r := range s.Requests() {
		if uri == "" || r.URI == uri {
			n += r.BodyBytes
		}
	}
	return n
}
