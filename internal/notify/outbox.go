package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/hoist-dev/hoist/internal/clip"
	"github.com/hoist-dev/hoist/internal/safefs"
)

// OutboxName is the outbox's name inside statuses/.
const OutboxName = "notify-outbox.json"

// MaxOutboxSize caps what is read. The caps below keep a valid outbox far
// under it: maxEvents × (maxText + maxTargets × ~120 bytes of delivery
// state) + maxKeys × ~80 bytes is about 300 KiB.
const MaxOutboxSize = 1 << 20

const (
	maxEvents  = 100 // pending events; past it the oldest is dropped
	maxTargets = 16  // targets an event goes to
	maxKeys    = 500 // event keys remembered to refuse repeats
	maxText    = 512 // bytes of a message
	maxError   = 200 // bytes of a delivery's last error
)

// outboxVersion is the format's version; another is not parsed.
const outboxVersion = 1

// Event is a message waiting for its targets.
type Event struct {
	Key     string               `json:"key"`
	Kind    Kind                 `json:"kind"`
	Text    string               `json:"text"`
	Created time.Time            `json:"created"`
	Pending map[string]*Delivery `json:"pending"` // by TargetID
}

// Delivery is the state of one event's delivery to one target.
type Delivery struct {
	Attempts int       `json:"attempts"`
	Next     time.Time `json:"next"` // not before
	Error    string    `json:"error,omitempty"`
}

// outbox is the content of the outbox file.
type outbox struct {
	Version int      `json:"version"`
	Events  []*Event `json:"events"`
	Keys    []string `json:"keys"` // keys of the newest events, oldest first
	Watch   watch    `json:"watch"`
}

// errCorrupt marks an outbox file that cannot be used.
var errCorrupt = errors.New("corrupt notification outbox")

// loadOutbox reads the outbox in dir; a missing file is an empty outbox.
func loadOutbox(dir *os.Root) (outbox, error) {
	data, err := safefs.ReadFile(dir, OutboxName, MaxOutboxSize)
	if errors.Is(err, fs.ErrNotExist) {
		return outbox{Version: outboxVersion}, nil
	}
	if err != nil {
		return outbox{}, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	var b outbox
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return outbox{}, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	if b.Version != outboxVersion {
		return outbox{}, fmt.Errorf("%w: version %d, want %d", errCorrupt, b.Version, outboxVersion)
	}
	for _, ev := range b.Events {
		if ev == nil || ev.Key == "" || len(ev.Pending) == 0 {
			return outbox{}, fmt.Errorf("%w: an event without key or pending delivery", errCorrupt)
		}
		for id, d := range ev.Pending {
			if d == nil {
				return outbox{}, fmt.Errorf("%w: event %s: no state for target %s", errCorrupt, ev.Key, id)
			}
		}
	}
	return b, nil
}

// save replaces the outbox file in dir atomically.
func (b *outbox) save(dir *os.Root) error {
	data, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("encode the notification outbox: %w", err)
	}
	if err := safefs.WriteFile(dir, OutboxName, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write the notification outbox: %w", err)
	}
	return nil
}

// seen tells whether an event with key was added before.
func (b *outbox) seen(key string) bool {
	for _, k := range b.Keys {
		if k == key {
			return true
		}
	}
	return false
}

// add records n's key and, when it has targets, queues it for each of
// them, due at once. It returns the oldest event dropped to make room.
func (b *outbox) add(n note, targets []string, now time.Time) (dropped *Event) {
	b.Keys = append(b.Keys, n.key)
	if len(b.Keys) > maxKeys {
		b.Keys = b.Keys[len(b.Keys)-maxKeys:]
	}
	if len(targets) == 0 {
		return nil
	}
	ev := &Event{Key: n.key, Kind: n.kind, Text: clip.To(n.text, maxText), Created: now, Pending: map[string]*Delivery{}}
	for _, t := range targets {
		ev.Pending[TargetID(t)] = &Delivery{Next: now}
	}
	b.Events = append(b.Events, ev)
	if len(b.Events) > maxEvents {
		dropped, b.Events = b.Events[0], b.Events[1:]
	}
	return dropped
}

// dropKind removes the events of kind k.
func (b *outbox) dropKind(k Kind) {
	b.Events = slices.DeleteFunc(b.Events, func(ev *Event) bool { return ev.Kind == k })
}

// done removes target id from event ev, and ev when nothing is pending.
func (b *outbox) done(ev *Event, id string) {
	delete(ev.Pending, id)
	if len(ev.Pending) > 0 {
		return
	}
	for i, e := range b.Events {
		if e == ev {
			b.Events = append(b.Events[:i], b.Events[i+1:]...)
			return
		}
	}
}
