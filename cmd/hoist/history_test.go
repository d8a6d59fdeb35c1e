package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/history"
)

// The table shows running and abandoned runs without a duration, keeps a
// reason on its row, and names a failing script the reason does not.
// (The engine's TestHistory runs `hoist history` on a real root.)
func TestPrintHistory(t *testing.T) {
	start := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		entry history.Entry
		want  []string
	}{
		{"running", history.Entry{ID: "20261205T030000Z-4", Action: history.Apply, From: "1.0.0", To: "1.1.0", Started: start},
			[]string{"2026-12-05 03:00:00", "apply", "1.0.0", "1.1.0", " - ", "running", "20261205T030000Z-4"}},
		{"rolled back", history.Entry{ID: "20261205T030000Z-3", Action: history.Apply, From: "1.0.0", To: "1.1.0", Started: start,
			Finished: start.Add(90 * time.Second), Result: history.RolledBack, Reason: "migration\nfailed\tbadly", Script: "02-run.sh"},
			[]string{"1m30s", "rolled-back", "02-run.sh: migration failed badly"}},
		{"abandoned", history.Entry{ID: "20261205T030000Z-2", Action: history.Apply, To: "1.0.0", Started: start,
			Result: history.Failed, Reason: history.Interrupted},
			[]string{"apply", " - ", "failed", "interrupted"}},
		{"quick", history.Entry{ID: "20261205T030000Z-1", Action: history.Rollback, From: "1.1.0", To: "1.0.0", Started: start,
			Finished: start.Add(1234567 * time.Microsecond), Result: history.Success},
			[]string{"rollback", "1s", "success"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := printHistory(&out, []history.Entry{tt.entry}, time.UTC); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], "STARTED") {
				t.Fatalf("output:\n%s", out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(lines[1], w) {
					t.Errorf("row lacks %q: %q", w, lines[1])
				}
			}
		})
	}
	var out bytes.Buffer
	if err := printHistory(&out, nil, time.UTC); err != nil || out.String() != "no runs recorded yet\n" {
		t.Errorf("empty: %q %v", out.String(), err)
	}
}
