// Package history records every run of the engine — apply, rollback,
// recover — and keeps the script output of the last runs, for the owner
// of the node (GET /v1/system/history, `hoist history`).
//
// The record of truth is .hoist/history.jsonl, root-only: one JSON entry
// per line, appended and fsynced when a run starts and again when it ends
// (the later line for an id wins). A torn last line, left by a crash, is
// cut off before the next append and ignored on read. The file is
// compacted to the newest entries when it grows past compactSize.
//
// Every change is published for the unprivileged manager: statuses/
// history.json (the newest Keep entries, newest first, replaced
// atomically) and statuses/history/<id>.log (the redacted tail of a run's
// script output, for the newest KeepLogs runs). Both live in a directory
// the manager can write, so readers validate what they read, and the
// engine only ever deletes names it could have written itself.
package history

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Action is what a run did.
type Action string

// The actions the engine records.
const (
	Apply    Action = "apply"
	Rollback Action = "rollback"
	// Recover is a run of `hoist recover` that had no run of its own to
	// finish (an undo area found without its journal).
	Recover Action = "recover"
)

// Result is how a run ended; "" while it runs (or until a crash is
// recovered).
type Result string

// The results of a finished run.
const (
	Success Result = "success"
	// Failed: the run failed and the root was not changed.
	Failed Result = "failed"
	// RolledBack: the run failed after changing the root, and the release
	// installed before it was restored.
	RolledBack Result = "rolled-back"
)

// Interrupted is the reason of a run that a crash cut short and that
// recover undid.
const Interrupted = "interrupted"

// Entry is one run.
type Entry struct {
	ID      string    `json:"id"`
	Action  Action    `json:"action"`
	From    string    `json:"from"` // version installed before the run; "" on a fresh root
	To      string    `json:"to"`   // version the run installs
	Started time.Time `json:"started"`
	// Finished is zero while the run goes on, and for a run found
	// abandoned after a crash.
	Finished time.Time `json:"finished,omitzero"`
	Result   Result    `json:"result,omitempty"`
	Reason   string    `json:"reason,omitempty"` // why it failed, or a note
	Script   string    `json:"script,omitempty"` // the failing script
	// Log says that statuses/history/<id>.log holds the run's script
	// output; it is set when published.
	Log bool `json:"log,omitempty"`
}

// maxField caps the text fields of an entry: a reason quotes script
// output and release data.
const maxField = 1024

// idPattern is an id: the run's start in UTC and a sequence number that
// rises with every run, so ids stay unique and ordered when the clock
// jumps back.
var idPattern = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-([1-9][0-9]{0,8})$`)

// ValidID reports whether id is an id the engine makes. Everything that
// turns an id into a file name checks it first.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// seq returns the sequence number of a valid id, else 0.
func seq(id string) int {
	m := idPattern.FindStringSubmatch(id)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func newID(start time.Time, n int) string {
	return start.UTC().Format("20060102T150405Z") + "-" + strconv.Itoa(n)
}

// validate checks an entry read from a file the manager could have
// written.
func (e Entry) validate() error {
	switch {
	case !ValidID(e.ID):
		return fmt.Errorf("bad id %q", clipText(e.ID))
	case e.Action != Apply && e.Action != Rollback && e.Action != Recover:
		return fmt.Errorf("entry %s: bad action %q", e.ID, clipText(string(e.Action)))
	case e.Result != "" && e.Result != Success && e.Result != Failed && e.Result != RolledBack:
		return fmt.Errorf("entry %s: bad result %q", e.ID, clipText(string(e.Result)))
	case len(e.From) > maxField || len(e.To) > maxField || len(e.Reason) > maxField || len(e.Script) > maxField:
		return fmt.Errorf("entry %s: field over %d bytes", e.ID, maxField)
	}
	return nil
}

// clipText shortens s to maxField bytes, on a rune boundary.
func clipText(s string) string {
	if len(s) <= maxField {
		return s
	}
	return strings.ToValidUTF8(s[:maxField-3], "") + "..."
}
