package account

import (
	"math"
	"net/netip"
	"sync"
	"time"
)

// maxClients caps the clients the Limiter tracks; past it a client's
// bucket is forgotten, which only gives that client its burst back.
const maxClients = 4096

// Limiter slows failed logins per client with a token bucket: each client
// has Burst tries, one more every Every. A guesser is held to that rate
// while the owner, from another address, is never locked out; the guesser's
// own address recovers by itself.
type Limiter struct {
	burst float64
	every time.Duration

	mu sync.Mutex // guards m
	m  map[string]bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewLimiter returns a Limiter allowing burst failures, then one per every.
func NewLimiter(burst int, every time.Duration) *Limiter {
	return &Limiter{burst: float64(burst), every: every, m: map[string]bucket{}}
}

// Client is the key of the address addr ("ip" or "ip:port"): the address,
// or its /64 for IPv6, as one host commonly holds a whole /64.
func Client(addr string) string {
	ap, err := netip.ParseAddrPort(addr)
	a := ap.Addr()
	if err != nil {
		if a, err = netip.ParseAddr(addr); err != nil {
			return addr
		}
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// refill returns client's bucket at now.
func (l *Limiter) refill(client string, now time.Time) bucket {
	b, ok := l.m[client]
	if !ok {
		return bucket{tokens: l.burst, at: now}
	}
	b.tokens = math.Min(l.burst, b.tokens+float64(now.Sub(b.at))/float64(l.every))
	b.at = now
	return b
}

// Allow reports whether client may try now; when not, how long to wait.
func (l *Limiter) Allow(client string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(client, now)
	if b.tokens >= 1 {
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) * float64(l.every))
}

// Fail counts a failed try of client.
func (l *Limiter) Fail(client string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(client, now)
	b.tokens = math.Max(0, b.tokens-1)
	if _, ok := l.m[client]; !ok && len(l.m) >= maxClients {
		l.prune(now)
	}
	l.m[client] = b
}

// prune forgets the clients whose bucket is full again, and if none is,
// an arbitrary one.
func (l *Limiter) prune(now time.Time) {
	n := len(l.m)
	for c := range l.m {
		if l.refill(c, now).tokens >= l.burst {
			delete(l.m, c)
		}
	}
	if len(l.m) == n {
		for c := range l.m {
			delete(l.m, c)
			break
		}
	}
}
