package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// Defaults and limits of delivery.
const (
	DefaultRetry   = 30 * time.Second // first retry delay
	MaxRetry       = time.Hour        // the retry delay doubles up to it
	MaxAge         = 24 * time.Hour   // an event not delivered by then is dropped
	DefaultTimeout = 10 * time.Second // one send
)

// ErrNoTargets means there is nowhere to send to.
var ErrNoTargets = errors.New("no notification targets are set")

// Options configure a Notifier; zero optional fields are the defaults.
type Options struct {
	Dir     *os.Root        // statuses/, where the outbox lives
	Targets func() []string // the notification URLs, read at each event and delivery pass; nil: none
	Log     logrus.FieldLogger
	Send    Sender           // nil: Shoutrrr(DefaultTimeout)
	Now     func() time.Time // nil: time.Now
	Retry   time.Duration    // first retry delay, doubled per failure up to MaxRetry; 0: DefaultRetry
}

// Notifier turns observations into events and delivers them through the
// outbox. Its methods are safe for concurrent use.
type Notifier struct {
	opt  Options
	wake chan struct{}
	// sending is held by the one delivery pass at a time, so a delivery is
	// never sent twice at once.
	sending sync.Mutex

	mu    sync.Mutex // guards the fields below
	box   outbox
	dirty bool // the file is behind box: nothing is sent until it is written
}

// Result is one target's answer to a test message.
type Result struct {
	Target string `json:"target"` // Redact's form of the URL
	ID     string `json:"id"`     // TargetID
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
}

// New returns a Notifier working on the outbox in opt.Dir. An outbox that
// cannot be read is set aside (as OutboxName.corrupt) and replaced by an
// empty one: losing pending messages is better than never sending again.
func New(opt Options) *Notifier {
	if opt.Targets == nil {
		opt.Targets = func() []string { return nil }
	}
	if opt.Send == nil {
		opt.Send = Shoutrrr(DefaultTimeout)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Retry <= 0 {
		opt.Retry = DefaultRetry
	}
	n := &Notifier{opt: opt, wake: make(chan struct{}, 1)}
	box, err := loadOutbox(opt.Dir)
	if err != nil {
		const aside = OutboxName + ".corrupt"
		log := opt.Log.WithError(err)
		if rerr := opt.Dir.Rename(OutboxName, aside); rerr != nil {
			log = log.WithField("set_aside_error", rerr.Error())
		}
		log.WithField("kept_as", aside).Error("notification outbox unreadable: starting a fresh one; the notifications it held are lost")
		box, n.dirty = outbox{Version: outboxVersion}, true
	}
	n.box = box
	return n
}

// Observe takes what the manager sees now and queues the events its
// change makes.
func (n *Notifier) Observe(o Observation) {
	n.update(func(w watch, now time.Time) (watch, []note) { return derive(w, o, now) })
}

// Checked takes the result of an automatic check: the version it found to
// install next ("" if none), or its error.
func (n *Notifier) Checked(available string, err error) {
	n.update(func(w watch, now time.Time) (watch, []note) { return checked(w, available, err, now) })
}

// update applies f to the watch and, if anything changed, writes the
// outbox before waking the delivery loop.
func (n *Notifier) update(f func(watch, time.Time) (watch, []note)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	w, notes := f(n.box.Watch, n.opt.Now())
	before, _ := json.Marshal(n.box.Watch)
	after, _ := json.Marshal(w)
	if len(notes) == 0 && bytes.Equal(before, after) {
		return
	}
	n.box.Watch = w
	n.addLocked(notes)
	n.saveLocked()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// addLocked queues notes not seen before for every target.
func (n *Notifier) addLocked(notes []note) {
	now := n.opt.Now()
	targets := n.targets()
	for _, nt := range notes {
		if n.box.seen(nt.key) {
			continue
		}
		if old := n.box.add(nt, targets, now); old != nil {
			n.opt.Log.WithFields(logrus.Fields{"kind": old.Kind, "key": old.Key}).Warn("notification dropped: too many undelivered")
		}
		n.opt.Log.WithFields(logrus.Fields{"kind": nt.kind, "key": nt.key, "targets": len(targets)}).Info("notification queued")
	}
}

func (n *Notifier) saveLocked() {
	err := n.box.save(n.opt.Dir)
	n.dirty = err != nil
	if err != nil {
		n.opt.Log.WithError(err).Error("nothing is sent until the notification outbox can be written")
	}
}

// targets returns the configured URLs, without repeats, at most maxTargets.
func (n *Notifier) targets() []string {
	var urls []string
	ids := map[string]bool{}
	for _, u := range n.opt.Targets() {
		if id := TargetID(u); !ids[id] {
			ids[id] = true
			urls = append(urls, u)
		}
	}
	if len(urls) > maxTargets {
		n.opt.Log.Warnf("%d notification targets set; only the first %d are used", len(urls), maxTargets)
		urls = urls[:maxTargets]
	}
	return urls
}

// Run delivers the outbox until ctx ends: at once, when an event comes,
// and when a retry is due.
func (n *Notifier) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.wake:
		case <-t.C:
		}
		n.sending.Lock()
		_, next := n.deliver(ctx, "")
		n.sending.Unlock()
		wait := MaxRetry
		if !next.IsZero() {
			wait = min(max(next.Sub(n.opt.Now()), 0), MaxRetry)
		}
		t.Reset(wait)
	}
}

// Test sends a test message to every target now, through the outbox (a
// target that fails gets it later), and returns each target's answer.
func (n *Notifier) Test(ctx context.Context) ([]Result, error) {
	n.sending.Lock()
	defer n.sending.Unlock()
	n.mu.Lock()
	now := n.opt.Now()
	key := fmt.Sprintf("%s:%d", Test, now.UnixNano())
	if len(n.targets()) == 0 {
		n.mu.Unlock()
		return nil, ErrNoTargets
	}
	// A new test replaces one still pending, so pressing the button again
	// and again cannot push real events out of the capped outbox.
	n.box.dropKind(Test)
	n.addLocked([]note{{key, Test, "hoist: test notification: notifications from this node reach you here"}})
	n.saveLocked()
	dirty := n.dirty
	n.mu.Unlock()
	if dirty {
		return nil, errors.New("the notification outbox cannot be written; see the log")
	}
	results, _ := n.deliver(ctx, key)
	return results, ctx.Err()
}
