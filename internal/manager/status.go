package manager

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/hoist-dev/hoist/internal/request"
	"github.com/hoist-dev/hoist/internal/statusfile"
)

// statusAnswer is the status file read once: the status and its answer,
// encoded as writeJSON would, or why it could not be read.
type statusAnswer struct {
	st   statusfile.Status
	body []byte
	err  error
}

func readStatus(dir *os.Root) *statusAnswer {
	st, err := statusfile.Read(dir)
	if err != nil {
		return &statusAnswer{err: err}
	}
	body, err := encodeJSON(st)
	if err != nil {
		return &statusAnswer{err: fmt.Errorf("encode status: %w", err)}
	}
	return &statusAnswer{st: st, body: body}
}

// statusCache is the status as update-status and the event streams serve
// it. While the watcher runs with fsnotify (live), cur is the answer of the
// last read and readers take it without touching the file; otherwise they
// read the file themselves.
type statusCache struct {
	dir *os.Root
	hub *hub

	// mu serializes refreshes: each reads the file and stores and publishes
	// what it read before the next one reads, so an older read can never
	// replace a newer one.
	mu        sync.Mutex
	live      bool
	published *statusfile.Status // the last status sent to the hub
	cur       atomic.Pointer[statusAnswer]
}

// get returns the current answer.
func (c *statusCache) get() *statusAnswer {
	if a := c.cur.Load(); a != nil {
		return a
	}
	return readStatus(c.dir)
}

// refresh reads the status file, stores the answer while live, and
// publishes the status to the event streams if it changed. The watcher
// calls it on every change it sees; the manager calls it after writing the
// status itself, so its next answer shows the write without waiting for
// the watcher.
func (c *statusCache) refresh() {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := readStatus(c.dir)
	if c.live {
		c.cur.Store(a)
	}
	// As before the cache, an unreadable status is not published: streams
	// keep the last good one until the file is readable again.
	if a.err == nil && (c.published == nil || *c.published != a.st) {
		c.published = &a.st
		c.hub.publish(a.st)
	}
}

// setLive starts or stops serving from memory; a cache that is not live
// holds nothing, so it cannot go stale.
func (c *statusCache) setLive(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live = live
	c.cur.Store(nil)
}

// watchStatus keeps the status cache fresh and the event streams fed until
// ctx ends. The cache serves from memory only while fsnotify watches;
// without it, update-status reads the file on each request as the streams
// fall back to the poll.
func (s *Server) watchStatus(ctx context.Context) {
	live := func(on bool) {
		if !on && ctx.Err() == nil {
			s.log.Warn("cannot watch the status file: polling it, and reading it on each request")
		}
		s.status.setLive(on)
	}
	request.WatchChanges(ctx, s.dirs.Statuses, s.cfg.Poll, live, func() bool {
		s.status.refresh()
		return false
	})
}

// requestUpdate requests the update to release t and refreshes the status
// at once: whoever asked sees "Queued" in the next answer.
func (s *Server) requestUpdate(ctx context.Context, t string) error {
	err := request.Update(ctx, s.dirs, t)
	s.status.refresh() // also after an error: the status may have been written
	return err
}
