package objfetch

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// object is test content with its signed length and hash.
type object struct {
	data []byte
	sha  string
}

func newObject(t testing.TB, size int) object {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	sum := sha256.Sum256(data)
	return object{data: data, sha: hex.EncodeToString(sum[:])}
}

func (o object) size() int64 { return int64(len(o.data)) }

// fastClient retries quickly, so tests of retries take milliseconds.
func fastClient(o Options) *Client {
	if o.MinBackoff == 0 {
		o.MinBackoff = 5 * time.Millisecond
	}
	return New(o)
}

// partialPath is where a test downloads to.
func partialPath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "obj.partial")
}

// assertFile fails unless path holds exactly want.
func assertFile(t testing.TB, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s holds %d bytes that differ from the object's %d", path, len(got), len(want))
	}
}

func assertGone(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Fatalf("%s still exists (%v), want removed", path, err)
	}
}

// logged is one request a misbehaving server answered.
type logged struct {
	Range  string
	Status int
	Bytes  int64 // body bytes written
}

// server is a Go HTTP server for what nginx will not do: each request is
// answered by the next of its handlers (the last one repeats), and logged.
type server struct {
	*httptest.Server
	// busy counts the handlers running: a client can have read a whole
	// response before its handler has logged what it sent.
	busy     sync.WaitGroup
	mu       sync.Mutex // guards the fields below
	handlers []handler
	log      []logged
}

// handler answers one request; it returns the status and body bytes it
// sent, for the log.
type handler func(w http.ResponseWriter, r *http.Request) (status int, n int64)

func newServer(t testing.TB, handlers ...handler) *server {
	s := &server{handlers: handlers}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.busy.Add(1)
		defer s.busy.Done()
		s.mu.Lock()
		i := min(len(s.log), len(s.handlers)-1)
		s.log = append(s.log, logged{Range: r.Header.Get("Range")})
		s.mu.Unlock()
		status, n := s.handlers[i](w, r)
		s.mu.Lock()
		s.log[len(s.log)-1].Status, s.log[len(s.log)-1].Bytes = status, n
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

// requests returns the log of the requests made, once their handlers
// have ended.
func (s *server) requests() []logged {
	s.busy.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]logged(nil), s.log...)
}

// serve answers like a plain static server: the object, honouring a
// "bytes=N-" Range.
func serve(o object) handler {
	return func(w http.ResponseWriter, r *http.Request) (int, int64) {
		var start int64
		if _, err := fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-", &start); err == nil {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, o.size()-1, o.size()))
			w.Header().Set("Content-Length", strconv.FormatInt(o.size()-start, 10))
			w.WriteHeader(http.StatusPartialContent)
			n, _ := w.Write(o.data[start:])
			return http.StatusPartialContent, int64(n)
		}
		return serveBody(o.data)(w, r)
	}
}

// serveBody answers 200 with body, ignoring any Range.
func serveBody(body []byte) handler {
	return func(w http.ResponseWriter, r *http.Request) (int, int64) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		n, _ := w.Write(body)
		return http.StatusOK, int64(n)
	}
}

// dropAfter sends a 200 announcing the whole object, then only its first
// n bytes, and cuts the connection.
func dropAfter(o object, n int) handler {
	return func(w http.ResponseWriter, r *http.Request) (int, int64) {
		w.Header().Set("Content-Length", strconv.FormatInt(o.size(), 10))
		w.Write(o.data[:n])
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return http.StatusOK, int64(n)
	}
}

// status answers code with headers kv (name, value, ...).
func status(code int, kv ...string) handler {
	return func(w http.ResponseWriter, r *http.Request) (int, int64) {
		for i := 0; i+1 < len(kv); i += 2 {
			w.Header().Set(kv[i], kv[i+1])
		}
		w.WriteHeader(code)
		return code, 0
	}
}
