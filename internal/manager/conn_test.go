package manager

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/manager/managertest"
)

// TestConnectionLimits opens as many keep-alive connections as the cap
// allows, idle after one request each: one more connection is not served
// until one of them closes, and an idle connection is closed by the server
// after the idle timeout.
func TestConnectionLimits(t *testing.T) {
	const maxConns, idle = 3, 2 * time.Second
	root := managertest.NewRoot(t, "1.0.0")
	s := start(t, root, "file:///nonexistent", options{maxConns: maxConns, idleTimeout: idle})
	addr := strings.TrimPrefix(s.url, "http://")

	// served sends one keep-alive request on c and reports whether the
	// answer came within wait.
	served := func(c net.Conn, r *bufio.Reader, wait time.Duration) bool {
		t.Helper()
		c.SetDeadline(time.Now().Add(wait))
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(r, nil)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}

	var conns []net.Conn
	for i := range maxConns {
		c, r := dial()
		if !served(c, r, 5*time.Second) {
			t.Fatalf("connection %d not served", i)
		}
		conns = append(conns, c)
	}
	extra, extraR := dial()
	if served(extra, extraR, idle/4) {
		t.Fatalf("connection %d served, over the cap of %d", maxConns+1, maxConns)
	}
	conns[0].Close() // makes room: the waiting connection is served
	if !served(extra, extraR, 5*time.Second) {
		t.Fatal("the waiting connection was not served after another closed")
	}

	// The idle timeout closes the others.
	c := conns[1]
	c.SetReadDeadline(time.Now().Add(idle + 5*time.Second))
	began := time.Now()
	if n, err := c.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("idle connection: read %d bytes, %v; want EOF", n, err)
	}
	if took := time.Since(began); took > idle+2*time.Second {
		t.Errorf("idle connection closed after %s, idle timeout %s", took, idle)
	}
}
