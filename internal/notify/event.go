package notify

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-version"

	"github.com/hoist-dev/hoist/internal/statusfile"
)

// Kind is what an event tells.
type Kind string

// The kinds of events.
const (
	Available   Kind = "available"
	Started     Kind = "started"
	Succeeded   Kind = "succeeded"
	Failed      Kind = "failed"
	RolledBack  Kind = "rolled-back"
	CheckFailed Kind = "check-failing"
	Test        Kind = "test"
)

// checkFailingAfter is how long the automatic check must fail before the
// owner hears of it: a repository down for an hour is not news.
const checkFailingAfter = 24 * time.Hour

// note is an event before it enters the outbox.
type note struct {
	key  string
	kind Kind
	text string
}

// Observation is what the manager sees of the node at one moment: the
// status file (its description only when it tells a failure) and the
// installed version.
type Observation struct {
	State    statusfile.State `json:"state"`
	UpdateTo string           `json:"update_to,omitempty"`
	Reason   string           `json:"reason,omitempty"`
	Script   string           `json:"script,omitempty"`
	Version  string           `json:"version,omitempty"`
}

// NewObservation builds the Observation of status st with version
// installed ("" if none). report is the failure report the engine copies
// into statuses/; the failing script is taken from it when it is the
// report of st's update.
func NewObservation(st statusfile.Status, installed string, report []byte) Observation {
	o := Observation{State: st.State, UpdateTo: st.UpdateTo, Version: installed}
	if st.State == statusfile.Failed {
		o.Reason = st.Description
		fields := reportFields(report)
		if fields["to"] == st.UpdateTo {
			o.Script = fields["script"]
		}
	}
	return o
}

// reportFields reads the "name: value" lines heading a failure report.
func reportFields(report []byte) map[string]string {
	fields := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(report))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && !strings.Contains(k, " ") {
			fields[k] = strings.TrimSpace(v)
		}
	}
	return fields
}

// run is an update or rollback as the manager saw it start.
type run struct {
	To      string    `json:"to"`   // the tag it installs
	From    string    `json:"from"` // the version installed before
	Started time.Time `json:"started"`
}

func (r *run) key(k Kind) string {
	return fmt.Sprintf("%s:%s:%d", k, r.To, r.Started.UnixNano())
}

// watch is what the outbox remembers of the observations.
type watch struct {
	Last         *Observation `json:"last,omitempty"`
	Run          *run         `json:"run,omitempty"`
	CheckFailing time.Time    `json:"check_failing_since,omitzero"`
}

// derive returns the watch after observing o at now, and the events the
// change from the last observation makes. The first observation only sets
// the baseline: what happened before it is unknown.
func derive(w watch, o Observation, now time.Time) (watch, []note) {
	prev := w.Last
	w.Last = &o
	if prev == nil || *prev == o {
		if prev == nil && o.State == statusfile.Installing {
			w.Run = &run{To: o.UpdateTo, From: o.Version, Started: now}
		}
		return w, nil
	}
	r := w.Run
	if r == nil || (o.State == statusfile.Installing && r.To != o.UpdateTo) {
		r = &run{To: o.UpdateTo, From: prev.Version, Started: now}
	}
	switch o.State {
	case statusfile.Installing:
		if w.Run == r {
			return w, nil // the same run goes on
		}
		w.Run = r
		if isRollback(r.From, r.To) {
			return w, []note{{r.key(Started), Started, fmt.Sprintf("hoist: rolling back to %s (from %s)", r.To, tag(r.From))}}
		}
		return w, []note{{r.key(Started), Started, fmt.Sprintf("hoist: updating to %s (from %s)", r.To, tag(r.From))}}
	case statusfile.Failed:
		w.Run = nil
		what := "update to " + r.To
		if isRollback(r.From, r.To) {
			what = "rollback to " + r.To
		}
		if o.Script != "" {
			what += " failed in " + o.Script
		} else {
			what += " failed"
		}
		return w, []note{{r.key(Failed), Failed, fmt.Sprintf("hoist: %s: %s", what, o.Reason)}}
	default:
		w.Run = nil
		if isRollback(r.From, o.Version) {
			return w, []note{{r.key(RolledBack), RolledBack, fmt.Sprintf("hoist: rolled back to %s (from %s)", tag(o.Version), tag(r.From))}}
		}
		return w, []note{{r.key(Succeeded), Succeeded, fmt.Sprintf("hoist: updated to %s (from %s)", tag(o.Version), tag(r.From))}}
	}
}

// checked returns the watch after an automatic check at now that found
// release avail ("" if none) or failed with err, and the events it makes:
// a release is announced once, a failing check once per day-long streak.
func checked(w watch, avail string, err error, now time.Time) (watch, []note) {
	if err == nil {
		w.CheckFailing = time.Time{}
		if avail == "" {
			return w, nil
		}
		return w, []note{{"available:" + avail, Available, fmt.Sprintf("hoist: update available: %s", tag(avail))}}
	}
	if w.CheckFailing.IsZero() {
		w.CheckFailing = now
	}
	if now.Sub(w.CheckFailing) < checkFailingAfter {
		return w, nil
	}
	since := w.CheckFailing.UTC().Format(time.RFC3339)
	return w, []note{{fmt.Sprintf("%s:%d", CheckFailed, w.CheckFailing.UnixNano()), CheckFailed,
		fmt.Sprintf("hoist: the automatic update check has failed since %s: %v", since, err)}}
}

// isRollback tells whether going from version from to version to goes
// back; unknown versions go nowhere.
func isRollback(from, to string) bool {
	f, err1 := version.NewVersion(from)
	t, err2 := version.NewVersion(to)
	return err1 == nil && err2 == nil && t.LessThan(f)
}

// tag shows a version as a tag ("v1.1.0"), or "no release".
func tag(v string) string {
	switch {
	case v == "":
		return "no release"
	case strings.HasPrefix(v, "v"):
		return v
	}
	return "v" + v
}
