package gitserver

import (
	"net"
	"sync"
	"time"
)

type connKey struct{}

type listener struct {
	net.Listener
	s *Server
}

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &conn{Conn: c, s: l.s}, nil
}

// conn counts the bytes of one connection and learns its request.
type conn struct {
	net.Conn
	s    *Server
	once sync.Once

	mu     sync.Mutex // guards the fields below
	bytes  int64
	path   string
	status int
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

func (c *conn) learn(path string, status int) {
	c.mu.Lock()
	c.path, c.status = path, status
	c.mu.Unlock()
}

// Close records the connection's request, if it had one.
func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.mu.Lock()
		r := Request{At: time.Now(), Path: c.path, Status: c.status, Bytes: c.bytes}
		c.mu.Unlock()
		if r.Path != "" {
			c.s.mu.Lock()
			c.s.reqs = append(c.s.reqs, r)
			c.s.mu.Unlock()
		}
	})
	return err
}
