// Package nginx serves a directory with a real nginx (package
// internal/nginx) in tests, the way a static release repository or a CDN
// origin serves it.
//
// Each Server runs its own master process with its config, pid file, temp
// directories and access log in a t.TempDir(), on a free loopback port, and
// is stopped when the test ends. Tests assert what was fetched with
// Requests.
package nginx

import (
	"fmt"
	"os"
	"testing"

	"github.com/hoist-dev/hoist/internal/nginx"
	"github.com/hoist-dev/hoist/internal/testutil/daemon"
)

// Bin is the nginx binary the tests run.
const Bin = nginx.Bin

// Request is one line of the access log.
type Request = nginx.Request

// Server is a running nginx.
type Server struct {
	URL       string // http://127.0.0.1:PORT, without a trailing slash
	Root      string // the directory served at URL/
	Proc      *daemon.Process
	t         testing.TB
	accessLog string
}

// Start serves root with nginx until the test ends. serverConfig, if not
// empty, is added inside the server block (e.g. "limit_rate 1m;" or a
// location with its own headers).
func Start(t testing.TB, root, serverConfig string) *Server {
	t.Helper()
	if _, err := os.Stat(Bin); err != nil {
		t.Skipf("nginx not installed: %v", err)
	}
	setup, err := nginx.Prepare(t.TempDir(), nginx.Config{Root: root, Server: serverConfig})
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{URL: "http://" + setup.Addr, Root: setup.Root, t: t, accessLog: setup.AccessLog}
	s.Proc = daemon.Start(t, Bin, setup.Args, nil)
	daemon.Eventually(t, "nginx listening on "+setup.Addr, func() bool {
		s.Proc.Alive()
		return nginx.Listening(setup.Addr)
	})
	return s
}

// Requests returns the requests nginx has logged so far, oldest first.
// nginx writes a line when a request ends, so a transfer still running (or
// one whose client vanished, until nginx notices) is not listed yet.
func (s *Server) Requests() []Request {
	s.t.Helper()
	reqs, err := nginx.ReadLog(s.accessLog)
	if err != nil {
		s.t.Fatal(err)
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
