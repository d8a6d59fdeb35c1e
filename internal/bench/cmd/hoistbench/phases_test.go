package main

import (
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/engine"
)

// TestPhaseOfSteps keeps phaseOf in step with the engine: every step it
// journals belongs to a named phase.
func TestPhaseOfSteps(t *testing.T) {
	for _, s := range engine.Steps {
		if p := phaseOf("", string(s)); p == "other" {
			t.Errorf("engine step %q has no phase", s)
		}
	}
}

func TestSplitPhases(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	recs := []journalRecord{
		{"begin", at(10)}, {"fetched", at(110)}, {"verified", at(130)},
		{"script-00", at(130)}, {"script-00-done", at(135)}, {"backup", at(140)}, {"backed-up", at(150)},
		{"install", at(150)}, {"installed", at(250)}, {"script-01", at(252)}, {"script-03-done", at(270)},
		{"commit", at(270)}, {"done", at(290)},
	}
	p, err := splitPhases(recs, t0, at(300))
	if err != nil {
		t.Fatal(err)
	}
	want := phases{"prepare": 10, "clone": 100, "verify": 20, "scripts": 23, "plan": 5, "backup": 10, "install": 100, "check": 2, "commit": 20, "exit": 10}
	for k, v := range want {
		if p[k] != v*time.Millisecond {
			t.Errorf("%s = %v, want %v ms", k, p[k], v)
		}
	}
	if p.total() != 300*time.Millisecond {
		t.Errorf("total = %v, want 300ms", p.total())
	}
	if _, err := splitPhases(recs[:5], t0, at(300)); err == nil {
		t.Error("a journal without done: no error")
	}
	if _, err := splitPhases(recs, at(20), at(300)); err == nil {
		t.Error("a record before the start: no error")
	}
}
