package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"os/exec"
	"sync/atomic"
	"time"
)

// gitServer serves the repositories under one directory over smart HTTP
// (git http-backend behind net/http/cgi) on loopback, and counts the bytes
// of every response body: what a client fetched.
type gitServer struct {
	base  string // URL of the project root; a repo is base + "/" + name
	sent  atomic.Int64
	srv   *http.Server
	close func()
}

func serveGit(projectRoot string) (*gitServer, error) {
	gitPath, err := exec.LookPath("git")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g := &gitServer{base: "http://" + ln.Addr().String()}
	backend := &cgi.Handler{
		Path:   gitPath,
		Args:   []string{"http-backend"},
		Stderr: io.Discard,
		Env:    append(cleanEnv(), "GIT_PROJECT_ROOT="+projectRoot, "GIT_HTTP_EXPORT_ALL=1"),
	}
	g.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			backend.ServeHTTP(&countingWriter{ResponseWriter: w, n: &g.sent}, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.srv.Serve(ln) // ends with Shutdown; a failure shows as failed fetches
	}()
	g.close = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.srv.Shutdown(ctx)
		<-done
	}
	return g, nil
}

// url is the URL of repository name.
func (g *gitServer) url(name string) string { return g.base + "/" + name }

// counted runs fn and returns the response bytes served meanwhile.
func (g *gitServer) counted(fn func() error) (int64, error) {
	before := g.sent.Load()
	err := fn()
	return g.sent.Load() - before, err
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
