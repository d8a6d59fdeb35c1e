package fleetsim

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// gitServer serves the repositories under a directory over smart HTTP (git
// http-backend behind net/http/cgi) without keep-alive, so each connection
// is one request, and records each as a Hit with the bytes of its
// connection.
type gitServer struct {
	url string // of the project root
	srv *http.Server

	mu   sync.Mutex // guards log
	log  []Hit
	done chan struct{}
}

type connKey struct{}

// conn counts the bytes of one connection and learns its request.
type conn struct {
	net.Conn
	s      *gitServer
	mu     sync.Mutex // guards the fields below
	bytes  int64
	path   string
	status int
	once   sync.Once
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.add(n)
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.add(n)
	return n, err
}

func (c *conn) add(n int) {
	c.mu.Lock()
	c.bytes += int64(n)
	c.mu.Unlock()
}

// Close records the connection's request.
func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.mu.Lock()
		h := Hit{At: time.Now(), Path: c.path, Status: c.status, Bytes: c.bytes}
		c.mu.Unlock()
		if h.Path != "" {
			c.s.mu.Lock()
			c.s.log = append(c.s.log, h)
			c.s.mu.Unlock()
		}
	})
	return err
}

type listener struct {
	net.Listener
	s *gitServer
}

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &conn{Conn: c, s: l.s}, nil
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

func serveGit(projectRoot string) (*gitServer, error) {
	gitPath, err := exec.LookPath("git")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &gitServer{url: "http://" + ln.Addr().String(), done: make(chan struct{})}
	backend := &cgi.Handler{
		Path:   gitPath,
		Args:   []string{"http-backend"},
		Stderr: io.Discard,
		Env:    append(gitEnv(), "GIT_PROJECT_ROOT="+projectRoot, "GIT_HTTP_EXPORT_ALL=1"),
	}
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			backend.ServeHTTP(sw, r)
			c := r.Context().Value(connKey{}).(*conn)
			c.mu.Lock()
			c.path, c.status = r.URL.Path, sw.status
			c.mu.Unlock()
		}),
		ConnContext:       func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) },
		ReadHeaderTimeout: 10 * time.Second,
	}
	s.srv.SetKeepAlivesEnabled(false)
	go func() {
		defer close(s.done)
		s.srv.Serve(listener{ln, s}) // ends with Shutdown
	}()
	return s, nil
}

// stop ends the server; the connections it closes are recorded.
func (s *gitServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.srv.Shutdown(ctx)
	<-s.done
}

func (s *gitServer) hits() []Hit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Hit(nil), s.log...)
}

// gitEnv is the environment of git: no inherited GIT_* variables and no
// system or global configuration.
func gitEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	return append(env, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
}
