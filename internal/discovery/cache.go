package discovery

import (
	"context"
	"sync"
	"time"
)

// maxEntries bounds a cache; keys are refs, some of them chosen by clients.
const maxEntries = 256

// cache remembers successful answers for ttl and lets concurrent callers
// share one fetch, so a burst of page loads costs the repository one read.
// Failures are not remembered: the next call tries again.
type cache[T any] struct {
	ttl time.Duration

	mu      sync.Mutex // guards entries
	entries map[string]*entry[T]
}

type entry[T any] struct {
	done chan struct{} // closed once val, err and at are set
	val  T
	err  error
	at   time.Time
}

// get returns key's answer, calling fetch when there is no fresh one. The
// fetch is detached from ctx so that one caller giving up does not fail the
// others; fetch must bound its own time.
func (c *cache[T]) get(ctx context.Context, key string, fetch func(context.Context) (T, error)) (T, error) {
	c.mu.Lock()
	e := c.entries[key]
	if e != nil && e.stale(c.ttl) {
		e = nil
	}
	if e == nil {
		if c.entries == nil || len(c.entries) >= maxEntries {
			c.prune()
		}
		e = &entry[T]{done: make(chan struct{})}
		c.entries[key] = e
		detached := context.WithoutCancel(ctx)
		go func() {
			e.val, e.err = fetch(detached)
			e.at = time.Now()
			close(e.done)
		}()
	}
	c.mu.Unlock()
	select {
	case <-e.done:
		return e.val, e.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// stale reports whether e is finished and failed or older than ttl.
func (e *entry[T]) stale(ttl time.Duration) bool {
	select {
	case <-e.done:
		return e.err != nil || time.Since(e.at) >= ttl
	default:
		return false // in flight: share it
	}
}

// prune drops finished entries that are stale; c.mu must be held. Entries in
// flight stay, so the map can exceed maxEntries only by fetches running now.
func (c *cache[T]) prune() {
	if c.entries == nil {
		c.entries = map[string]*entry[T]{}
	}
	for k, e := range c.entries {
		if e.stale(c.ttl) {
			delete(c.entries, k)
		}
	}
}
