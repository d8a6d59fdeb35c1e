// Package netfault is a TCP proxy for tests that puts network faults
// between a client and a server: every connection is forwarded to the
// target until the bytes sent back to clients reach a limit, then the
// connection is cut (reset) or stalls (stays open, silent).
//
// The limit counts the bytes sent to clients over all connections since
// the fault was set, so a fault can be placed anywhere in an exchange of
// several requests (a git clone over HTTP: the refs, then the pack).
// Connections opened after the limit was reached meet the fault at once.
package netfault

import (
	"errors"
	"io"
	"net"
	"sync"
)

// Kind is what happens once the limit is reached.
type Kind int

const (
	// None forwards everything.
	None Kind = iota
	// Cut closes the client's and the server's connection, mid-answer:
	// the client gets exactly the bytes before the limit, then the end.
	Cut
	// Stall stops forwarding in both directions and keeps the connections
	// open until the proxy closes.
	Stall
)

// Fault is a kind of fault After bytes into the server's answers.
type Fault struct {
	Kind  Kind
	After int64
}

// Proxy forwards TCP connections from Addr to a target.
type Proxy struct {
	ln     net.Listener
	target string
	done   chan struct{} // closed by Close: stalled connections end

	mu    sync.Mutex // guards the fields below
	fault Fault
	sent  int64 // bytes sent to clients since the fault was set
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// Start listens on a free port of 127.0.0.1 and forwards to target
// (host:port), with no fault until Set.
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, done: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	return p, nil
}

// Addr is the proxy's address (host:port).
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Set sets the fault and restarts the byte count.
func (p *Proxy) Set(f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault, p.sent = f, 0
}

// Sent returns the bytes sent to clients since the last Set.
func (p *Proxy) Sent() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent
}

// Close stops listening, closes every connection and waits for the
// forwarding goroutines.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	close(p.done)
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		if !p.track(client, server) {
			return // closed meanwhile
		}
		p.wg.Go(func() {
			var pair sync.WaitGroup
			pair.Go(func() { p.upstream(client, server) })
			pair.Go(func() { p.downstream(client, server) })
			pair.Wait()
			p.untrack(client, server)
		})
	}
}

// track registers the connections unless the proxy is closing.
func (p *Proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		for _, c := range conns {
			c.Close()
		}
		return false
	default:
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

// untrack closes and forgets the connections.
func (p *Proxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		c.Close()
		delete(p.conns, c)
	}
}

// upstream copies the client's bytes to the server unless a fault has
// struck.
func (p *Proxy) upstream(client, server net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			if p.struck() && !p.meet(client, server) {
				return
			}
			if _, werr := server.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			closeWrite(server)
			return
		}
	}
}

// downstream copies the server's bytes to the client up to the limit, then
// meets the fault.
func (p *Proxy) downstream(client, server net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			allowed := p.take(int64(n))
			if allowed > 0 {
				if _, werr := client.Write(buf[:allowed]); werr != nil {
					return
				}
			}
			if allowed < int64(n) && !p.meet(client, server) {
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				closeWrite(client)
			} else {
				client.Close()
			}
			return
		}
	}
}

// take reserves up to n bytes of the allowance and returns how many.
func (p *Proxy) take(n int64) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fault.Kind != None {
		n = max(min(n, p.fault.After-p.sent), 0)
	}
	p.sent += n
	return n
}

// struck reports whether the limit has been reached.
func (p *Proxy) struck() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fault.Kind != None && p.sent >= p.fault.After
}

// meet applies the fault to a connection pair: a cut closes both and
// returns false; a stall blocks until the proxy closes, then returns false.
// With no fault (cleared meanwhile) it returns true: carry on.
func (p *Proxy) meet(client, server net.Conn) bool {
	p.mu.Lock()
	kind := p.fault.Kind
	p.mu.Unlock()
	switch kind {
	case Cut:
		client.Close()
		server.Close()
		return false
	case Stall:
		<-p.done
		return false
	}
	return true
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
		return
	}
	c.Close()
}
