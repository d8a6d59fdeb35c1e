// Package gitserver serves the git repositories under a directory over
// smart HTTP (git http-backend behind net/http/cgi), the way a git release
// repository is served, and counts what it serves. Tests serve through
// internal/testutil/releaserepo (Backend, CountBody); the benchmark
// (hoistbench) and the fleet simulation (internal/fleetsim) with Start.
package gitserver

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Env is the environment of git: no inherited GIT_* variables and no
// system or global configuration.
func Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	return append(env, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
}

// Backend is git http-backend serving every repository under projectRoot.
func Backend(projectRoot string) (http.Handler, error) {
	gitPath, err := exec.LookPath("git")
	if err != nil {
		return nil, fmt.Errorf("git http-backend: %w", err)
	}
	return &cgi.Handler{
		Path:   gitPath,
		Args:   []string{"http-backend"},
		Stderr: io.Discard, // "not found" noise of clients asking for missing repos
		Env:    append(Env(), "GIT_PROJECT_ROOT="+projectRoot, "GIT_HTTP_EXPORT_ALL=1"),
	}, nil
}

// CountBody adds the bytes of the response bodies h writes to n: what
// clients downloaded.
func CountBody(h http.Handler, n *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&countingWriter{ResponseWriter: w, n: n}, r)
	})
}

// countingWriter adds the body bytes written through it to n.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(n))
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer (flushes).
func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Request is one request as the server saw it.
type Request struct {
	At     time.Time // when its connection closed
	Path   string    // without the query
	Status int
	Bytes  int64 // of its connection, both ways, headers included
}

// Server is a git server started by Start. It closes each connection after
// one request, so that a request's bytes are those of its connection.
type Server struct {
	URL  string // of the project root; a repository is URL + "/" + name
	srv  *http.Server
	body atomic.Int64
	done chan struct{}

	mu   sync.Mutex // guards reqs
	reqs []Request
}

// Start serves the repositories under projectRoot on a loopback port until
// Close.
func Start(projectRoot string) (*Server, error) {
	backend, err := Backend(projectRoot)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + ln.Addr().String(), done: make(chan struct{})}
	counted := CountBody(backend, &s.body)
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			counted.ServeHTTP(sw, r)
			r.Context().Value(connKey{}).(*conn).learn(r.URL.Path, sw.status)
		}),
		ConnContext:       func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) },
		ReadHeaderTimeout: 10 * time.Second,
	}
	s.srv.SetKeepAlivesEnabled(false)
	go func() {
		defer close(s.done)
		s.srv.Serve(listener{ln, s}) // ends with Shutdown; a failure shows as failed fetches
	}()
	return s, nil
}

// Close ends the server; the connections it closes are recorded.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.srv.Shutdown(ctx)
	<-s.done
}

// BodyBytes returns the bytes of the response bodies sent so far.
func (s *Server) BodyBytes() int64 { return s.body.Load() }

// Requests returns the requests whose connection has closed, oldest
// first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// statusWriter remembers the status of the answer.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
