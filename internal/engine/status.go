package engine

import (
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hoist-dev/hoist/internal/statusfile"
)

// statusEvery limits how often a change within one step is written:
// scripts may print ::progress lines in a tight loop, and installing
// counts files.
const statusEvery = 100 * time.Millisecond

// reporter writes the status file. Progress only rises while installing.
// A failure to write the status is logged and never fails an update.
type reporter struct {
	e       *Engine
	cur     statusfile.Status
	written time.Time
	now     func() time.Time // time.Now; tests fix it
}

// newReporter returns a reporter for an update to updateTo (kept in the
// status file while the update runs, as the manager wrote it).
func (e *Engine) newReporter(updateTo string) *reporter {
	return &reporter{e: e, cur: statusfile.Status{State: statusfile.Installing, UpdateTo: updateTo}, now: time.Now}
}

// progress sets the bar to pct (never lower than before, below 100) and
// the description to desc.
func (r *reporter) progress(pct int, desc string) {
	pct = min(max(pct, r.cur.Progress), 99)
	if pct == r.cur.Progress && desc == r.cur.Description && r.cur.State == statusfile.Installing {
		return
	}
	// Within one step (the same description) the bar moves at most every
	// statusEvery too: each write costs two fsyncs, an install of 10 files
	// would write 16 percents, and a tick not written costs nothing. A new
	// step is written at once.
	sameStep := desc == r.cur.Description && r.cur.State == statusfile.Installing
	r.cur.Description = desc
	if (pct == r.cur.Progress || sameStep) && r.now().Sub(r.written) < statusEvery {
		if sameStep {
			r.cur.Progress = pct
		}
		return // the next write carries it
	}
	r.cur.State, r.cur.Progress = statusfile.Installing, pct
	r.write(false)
}

// enter moves the bar to the start of band b, with the description desc.
func (r *reporter) enter(b band, desc string) { r.progress(b.span().lo, desc) }

// describe changes the description and keeps the bar where it is: an undo
// has no band of its own.
func (r *reporter) describe(desc string) { r.progress(r.cur.Progress, desc) }

// within returns a function mapping a phase's own 0–100 progress into s;
// an empty text keeps the description.
func (r *reporter) within(s span) func(n int, text string) {
	return func(n int, text string) {
		if text == "" {
			text = r.cur.Description
		}
		r.progress(s.at(n), text)
	}
}

// still is within for a phase without a band: the text changes, the bar
// stays.
func (r *reporter) still() func(n int, text string) {
	return func(_ int, text string) {
		if text != "" {
			r.describe(text)
		}
	}
}

// count returns a done-of-total counter moving the bar within band b.
func (r *reporter) count(b band, desc string) func(done, total int) {
	f := r.within(b.span())
	return func(done, total int) { f(100*done/max(total, 1), desc) }
}

// finish writes the final state. A success clears updateTo: nothing is
// left to install.
func (r *reporter) finish(state statusfile.State, desc string) {
	r.cur.State, r.cur.Description = state, desc
	if state == statusfile.Success {
		r.cur.Progress, r.cur.UpdateTo = 100, ""
	}
	r.write(true)
}

// write writes the status. Only a final one may use the status reserve:
// progress lost to a full disk costs nothing, while a status stuck at
// installing blocks the manager. For the same reason only a final one is
// made durable: progress lost to a crash is replaced by recover's status.
func (r *reporter) write(final bool) {
	if !final {
		r.report(statusfile.WriteProgress(r.e.statuses, r.cur))
		return
	}
	err := statusfile.Write(r.e.statuses, r.cur)
	if err != nil && r.e.freeStatusRoom(err) {
		err = statusfile.Write(r.e.statuses, r.cur)
	}
	r.report(err)
}

// report notes the status write that returned err.
func (r *reporter) report(err error) {
	r.written = r.now() // after the write: a slow disk does not eat the interval
	if err != nil {
		r.e.log.WithError(err).Warn("could not write the status file")
		return
	}
	r.e.log.WithFields(logrus.Fields{"state": r.cur.State, "progress": r.cur.Progress}).Info(r.cur.Description)
}

// current reads the status file, or Default when it cannot be read (a
// manager-writable file is never trusted to exist or parse).
func (e *Engine) current() statusfile.Status {
	st, err := statusfile.Read(e.statuses)
	if err != nil {
		e.log.WithError(err).Warn("status file unreadable")
		return statusfile.Default()
	}
	return st
}
