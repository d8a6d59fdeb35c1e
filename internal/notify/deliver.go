package notify

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hoist-dev/hoist/internal/clip"
)

// job is one delivery to send: target id (URL url) of event ev.
type job struct {
	ev      *Event
	id, url string
}

// deliver sends the deliveries due (of the event with key only, unless
// key is ""), each at most once, one at a time, recording each result
// before the next send. It returns the results and when the next retry is
// due (zero: none). The caller holds n.sending.
func (n *Notifier) deliver(ctx context.Context, key string) ([]Result, time.Time) {
	urls := map[string]string{}
	for _, u := range n.targets() {
		urls[TargetID(u)] = u
	}
	var results []Result
	tried := map[job]bool{}
	for ctx.Err() == nil {
		j, next, ok := n.nextDue(urls, key, tried)
		if !ok {
			return results, next
		}
		tried[j] = true
		// A send once started is finished and recorded even when ctx
		// ends: abandoned, it could reach the target and still be pending,
		// so sent again. The send's own timeout bounds the wait.
		err := n.opt.Send(context.WithoutCancel(ctx), j.url, j.ev.Text)
		n.record(j, err)
		r := Result{Target: Redact(j.url), ID: j.id, OK: err == nil}
		if err != nil {
			r.Error = err.Error()
		}
		results = append(results, r)
	}
	return results, time.Time{}
}

// nextDue drops what expired and returns the first delivery due and not
// tried yet, or when the next one is (zero: none). Nothing is due while
// the outbox file is behind: an event is written before it is sent.
func (n *Notifier) nextDue(urls map[string]string, key string, tried map[job]bool) (job, time.Time, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.opt.Now()
	if n.dirty {
		if n.saveLocked(); n.dirty {
			return job{}, now.Add(n.opt.Retry), false
		}
	}
	if n.expireLocked(urls, now) {
		n.saveLocked()
	}
	var next time.Time
	for _, ev := range n.box.Events {
		if key != "" && ev.Key != key {
			continue
		}
		for id, d := range ev.Pending {
			j := job{ev, id, urls[id]}
			if !d.Next.After(now) && !tried[j] {
				return j, time.Time{}, true
			}
			if next.IsZero() || d.Next.Before(next) {
				next = d.Next
			}
		}
	}
	return job{}, next, false
}

// expireLocked drops the events older than MaxAge and the deliveries to
// targets no longer set, logging each; it tells whether it dropped any.
func (n *Notifier) expireLocked(urls map[string]string, now time.Time) bool {
	changed := false
	for _, ev := range append([]*Event(nil), n.box.Events...) {
		old := now.Sub(ev.Created) >= MaxAge
		for id, d := range ev.Pending {
			log := n.opt.Log.WithFields(logrus.Fields{"kind": ev.Kind, "key": ev.Key, "target": id})
			_, set := urls[id]
			switch {
			case old:
				log.WithFields(logrus.Fields{"attempts": d.Attempts, "last_error": d.Error}).Error("notification dropped: not delivered within 24 h")
			case !set:
				log.Info("notification dropped: its target is no longer set")
			default:
				continue
			}
			n.box.done(ev, id)
			changed = true
		}
	}
	return changed
}

// record writes the result of sending j before anything else happens: a
// delivered message leaves the outbox, a failed one waits longer each time.
func (n *Notifier) record(j job, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	log := n.opt.Log.WithFields(logrus.Fields{"kind": j.ev.Kind, "key": j.ev.Key, "target": Redact(j.url), "target_id": j.id})
	d := j.ev.Pending[j.id]
	if d == nil {
		return
	}
	if err == nil {
		n.box.done(j.ev, j.id)
		n.saveLocked()
		log.Info("notification delivered")
		return
	}
	d.Attempts++
	d.Next = n.opt.Now().Add(n.backoff(d.Attempts))
	d.Error = clip.To(err.Error(), maxError)
	n.saveLocked()
	log.WithError(err).WithFields(logrus.Fields{"attempts": d.Attempts, "next": d.Next}).Warn("notification not delivered; will retry")
}

// backoff is the delay after the attempts-th failure.
func (n *Notifier) backoff(attempts int) time.Duration {
	d := n.opt.Retry
	for i := 1; i < attempts && d < MaxRetry; i++ {
		d *= 2
	}
	return min(d, MaxRetry)
}
