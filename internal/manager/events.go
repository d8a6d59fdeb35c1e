package manager

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/hoist-dev/hoist/internal/statusfile"
)

const (
	// maxStreams caps concurrent event streams; each holds a connection.
	maxStreams = 64
	// streamBuffer is how many changes a stream may lag behind before it
	// loses the oldest ones.
	streamBuffer = 32
	// heartbeat keeps proxies from closing a quiet stream.
	heartbeat = 25 * time.Second
	// writeGrace bounds one write to a stream, so a stuck client is dropped.
	writeGrace = 10 * time.Second
)

// hub fans the watched status out to the event streams and to the
// manager's own watchers (the notifier).
type hub struct {
	mu      sync.Mutex // guards subs and streams
	subs    map[chan statusfile.Status]struct{}
	streams int // the subscriptions that are event streams
}

func newHub() *hub { return &hub{subs: map[chan statusfile.Status]struct{}{}} }

// subscribe returns a channel of status changes and its cancel function.
// An event stream (stream true) gets one only while fewer than maxStreams
// are open; the manager's own watchers are not clients and do not count.
func (h *hub) subscribe(stream bool) (<-chan statusfile.Status, func(), bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if stream && h.streams >= maxStreams {
		return nil, nil, false
	}
	ch := make(chan statusfile.Status, streamBuffer)
	h.subs[ch] = struct{}{}
	if stream {
		h.streams++
	}
	return ch, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		if stream {
			h.streams--
		}
		h.mu.Unlock()
	}, true
}

// publish sends st to every stream without blocking: a full buffer drops
// its oldest entry, so order is kept and the latest status always arrives.
func (h *hub) publish(st statusfile.Status) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- st:
			continue
		default:
		}
		select {
		case <-ch:
		default:
		}
		// Cannot block: publish is the only sender, under mu, and a slot
		// was just freed.
		ch <- st
	}
}

// events streams the status as Server-Sent Events: the current status
// first, then one "status" event per change.
func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	// Subscribe before reading, so no change falls between the two.
	ch, cancel, ok := s.status.hub.subscribe(true)
	if !ok {
		return httpErrorf(http.StatusServiceUnavailable, "too many event streams open")
	}
	defer cancel()
	cur := s.status.get()
	if cur.err != nil {
		return cur.err
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)

	send := func(format string, args ...any) error {
		if err := rc.SetWriteDeadline(time.Now().Add(writeGrace)); err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return err
		}
		return rc.Flush()
	}
	sendStatus := func(st statusfile.Status) error {
		data, err := json.Marshal(st)
		if err != nil {
			return err
		}
		return send("event: status\ndata: %s\n\n", data)
	}
	// Errors after the header is written end the stream quietly: the client
	// is gone, and it reconnects on its own.
	if send("retry: 2000\n\n") != nil || sendStatus(cur.st) != nil {
		return nil
	}
	last := cur.st
	ping := time.NewTicker(heartbeat)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case st := <-ch:
			if st == last {
				continue
			}
			last = st
			if sendStatus(st) != nil {
				return nil
			}
		case <-ping.C:
			if send(": ping\n\n") != nil {
				return nil
			}
		}
	}
}
