package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/journal"
)

// phaseOrder lists the phases of an engine run as the table prints them.
var phaseOrder = []string{"prepare", "clone", "verify", "plan", "backup", "install", "check", "scripts", "commit", "undo", "exit"}

// phaseOf names the phase that ends when the engine journals step after
// prev: the engine journals each step just before doing it or just after
// finishing it (engine.Steps), so the time between two records is the work
// between.
func phaseOf(prev, step string) string {
	switch {
	case prev == "installed" && strings.HasPrefix(step, "script-"):
		return "check" // a rollback compares the restored files with their manifest
	case step == "begin":
		return "prepare" // process start, lock, checks, preflight
	case step == "fetched":
		return "clone"
	case step == "verified":
		return "verify"
	case step == "backup":
		return "plan" // stat and hash the live paths the update changes
	case step == "backed-up":
		return "backup"
	case step == "install" || step == "installed":
		return "install"
	case strings.HasPrefix(step, "script-"):
		return "scripts"
	case step == "commit" || step == "done":
		return "commit" // keep the backup, remove staging, final status
	case step == "undo" || step == "restored" || step == "restart":
		return "undo" // a failed run putting the old release back
	}
	return "other"
}

// phases is how long each phase of one engine run took.
type phases map[string]time.Duration

// total is the sum of all phases: the run's wall time.
func (p phases) total() time.Duration {
	var t time.Duration
	for _, d := range p {
		t += d
	}
	return t
}

// journalRecord is the part of an engine journal record the bench reads.
type journalRecord struct {
	Step string    `json:"step"`
	Time time.Time `json:"time"`
}

// readPhases splits the run of an engine command that started at start and
// ended at end into phases, from the journal it left in root.
func readPhases(root string, start, end time.Time) (phases, error) {
	data, err := os.ReadFile(filepath.Join(root, approot.StateDir, "journal"))
	if err != nil {
		return nil, err
	}
	payloads, _, err := journal.Replay(data)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	recs := make([]journalRecord, 0, len(payloads))
	for _, p := range payloads {
		var r journalRecord
		if err := json.Unmarshal(p, &r); err != nil {
			return nil, fmt.Errorf("journal record: %w", err)
		}
		recs = append(recs, r)
	}
	return splitPhases(recs, start, end)
}

// splitPhases attributes the time from start to each record to the phase
// that record ends, and the time after the last one to "exit".
func splitPhases(recs []journalRecord, start, end time.Time) (phases, error) {
	if len(recs) == 0 || recs[len(recs)-1].Step != "done" {
		return nil, fmt.Errorf("journal does not end in done: the run did not finish")
	}
	p := phases{}
	prev, prevStep := start, ""
	for _, r := range recs {
		if r.Time.Before(prev) {
			return nil, fmt.Errorf("journal step %s at %s is before %s", r.Step, r.Time, prev)
		}
		p[phaseOf(prevStep, r.Step)] += r.Time.Sub(prev)
		prev, prevStep = r.Time, r.Step
	}
	p["exit"] += end.Sub(prev)
	return p, nil
}
