package netfault

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// server answers every connection with size bytes, then closes.
func server(t *testing.T, size int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write(bytes.Repeat([]byte("x"), size))
			}()
		}
	}()
	return ln.Addr().String()
}

// fetch reads what one connection through p gives within a second.
func fetch(t *testing.T, p *Proxy) (int, error) {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		return 0, err // a reset can beat the end of connect
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(time.Second))
	n, err := io.Copy(io.Discard, c)
	return int(n), err
}

func TestProxy(t *testing.T) {
	p, err := Start(server(t, 100_000))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tests := []struct {
		fault   Fault
		want    int
		timeout bool // the connection stays open, silent
	}{
		{Fault{None, 0}, 100_000, false},
		{Fault{Cut, 1234}, 1234, false},
		{Fault{Cut, 0}, 0, false},
		{Fault{Stall, 4321}, 4321, true},
	}
	for _, tt := range tests {
		p.Set(tt.fault)
		n, err := fetch(t, p)
		var ne net.Error
		timedOut := errors.As(err, &ne) && ne.Timeout()
		if n != tt.want || timedOut != tt.timeout || err != nil && !timedOut {
			t.Errorf("%+v: got %d bytes, err %v", tt.fault, n, err)
		}
		if p.Sent() != int64(tt.want) {
			t.Errorf("%+v: Sent() = %d", tt.fault, p.Sent())
		}
	}
	// A second connection after a cut is cut at once.
	p.Set(Fault{Cut, 10})
	fetch(t, p)
	if n, err := fetch(t, p); n != 0 || err != nil {
		t.Errorf("connection after the cut: %d bytes, %v", n, err)
	}
}
