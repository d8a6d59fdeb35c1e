package engine_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/history"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// history returns the history the engine published, newest first.
func (f *fixture) history() []history.Entry {
	f.t.Helper()
	statuses, err := os.OpenRoot(f.path("statuses"))
	if err != nil {
		f.t.Fatal(err)
	}
	defer statuses.Close()
	entries, err := history.Read(statuses)
	if err != nil {
		f.t.Fatal(err)
	}
	return entries
}

// checkEntry compares the fields of e that do not depend on time.
func checkEntry(t *testing.T, e history.Entry, action history.Action, from, to string, result history.Result, reason, script string) {
	t.Helper()
	if e.Action != action || e.From != from || e.To != to || e.Result != result || e.Script != script || !strings.Contains(e.Reason, reason) || (reason == "") != (e.Reason == "") {
		t.Errorf("entry %+v, want %s %q->%q %s reason %q script %q", e, action, from, to, result, reason, script)
	}
	abandoned := e.Result == history.Failed && e.Finished.IsZero() // its end is unknown
	if !history.ValidID(e.ID) || e.Started.IsZero() || (result != "" && !abandoned && e.Finished.Before(e.Started)) {
		t.Errorf("entry %s: started %v finished %v", e.ID, e.Started, e.Finished)
	}
}

// TestHistory follows a root through a first install, an update, an
// update whose 02-run.sh fails, and a rollback, with the real binary.
func TestHistory(t *testing.T) {
	f := newFixture(t, append(releaserepo.DefaultReleases()[:2], failingAt("1.2.0", 2))...)
	f.must("apply", "--to", "v1.0.0")
	f.must("apply", "--to", "v1.1.0")
	if r := f.hoist("apply", "--to", "v1.2.0"); r.Code != 1 {
		t.Fatalf("failing update: %s", r)
	}
	f.must("rollback")

	got := f.history()
	if len(got) != 4 {
		t.Fatalf("%d entries: %+v", len(got), got)
	}
	checkEntry(t, got[0], history.Rollback, "1.1.0", "1.0.0", history.Success, "", "")
	checkEntry(t, got[1], history.Apply, "1.1.0", "1.2.0", history.RolledBack, "02-run.sh", "02-run.sh")
	checkEntry(t, got[2], history.Apply, "1.0.0", "1.1.0", history.Success, "", "")
	checkEntry(t, got[3], history.Apply, "", "1.0.0", history.Success, "", "")
	for i, e := range got {
		if !e.Log {
			t.Errorf("entry %d has no log", i)
		}
		if i > 0 && !e.Started.After(got[i-1].Started) && e.ID >= got[i-1].ID {
			t.Errorf("not newest first: %s before %s", got[i-1].ID, e.ID)
		}
	}
	// The failed run's log holds the failing script's output and the
	// restart of the release it restored.
	failedLog := f.read("statuses/history/" + got[1].ID + ".log")
	for _, want := range []string{"==> 00-run.sh of v1.2.0\n", "==> 02-run.sh of v1.2.0\n", "about to fail\n", "on stderr\n", "==> 01-run.sh of v1.1.0\n"} {
		if !strings.Contains(failedLog, want) {
			t.Errorf("log of the failed run lacks %q:\n%s", want, failedLog)
		}
	}
	if log := f.read("statuses/history/" + got[0].ID + ".log"); log != "==> 01-run.sh of v1.0.0\n::progress 50 v1.0.0/01 halfway\n" {
		t.Errorf("log of the rollback:\n%s", log)
	}
	if runs, _ := os.ReadDir(f.path(".hoist/logs")); len(runs) == 0 {
		t.Error("the scripts' own logs are gone")
	} else if matches, _ := filepath.Glob(f.path(".hoist/logs/run-*")); len(matches) != 0 {
		t.Errorf("run logs left behind: %v", matches)
	}

	// hoist history prints the same, newest first.
	out := f.must("history").Stdout
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "STARTED") {
		t.Fatalf("hoist history:\n%s", out)
	}
	for i, want := range [][]string{{"rollback", "1.1.0", "1.0.0", "success"}, {"apply", "1.2.0", "rolled-back", "02-run.sh"}, {"apply", "1.1.0", "success"}, {"apply", " - ", "1.0.0", "success"}} {
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("line %d lacks %q: %s", i+1, w, lines[i+1])
			}
		}
		if !strings.Contains(lines[i+1], got[i].ID) {
			t.Errorf("line %d lacks id %s: %s", i+1, got[i].ID, lines[i+1])
		}
	}
	var asJSON []history.Entry
	if err := json.Unmarshal([]byte(f.must("history", "--json").Stdout), &asJSON); err != nil || len(asJSON) != 4 || asJSON[1] != got[1] {
		t.Errorf("hoist history --json: %v %+v", err, asJSON)
	}
}

// A run killed mid-update shows as running, and after recover as
// rolled back, reason "interrupted", with the restart in its log — also
// when the recover itself is killed once.
func TestHistoryInterrupted(t *testing.T) {
	base := atV100(t)
	for _, recoverCrash := range []string{"", "restored"} {
		t.Run("recover-crash="+recoverCrash, func(t *testing.T) {
			f := base.copyOf(t)
			if r := f.exec([]string{crashEnv + "installed"}, "apply", "--to", "v1.1.0", "--root", f.root); r.Code != -1 {
				t.Fatalf("apply was not killed: %s", r)
			}
			got := f.history()
			if len(got) != 2 {
				t.Fatalf("entries after the crash: %+v", got)
			}
			checkEntry(t, got[0], history.Apply, "1.0.0", "1.1.0", "", "", "")
			if recoverCrash != "" {
				if r := f.exec([]string{crashEnv + recoverCrash}, "recover", "--root", f.root); r.Code != -1 {
					t.Fatalf("recover was not killed: %s", r)
				}
			}
			f.must("recover")
			got = f.history()
			if len(got) != 2 {
				t.Fatalf("entries after recover: %+v", got)
			}
			checkEntry(t, got[0], history.Apply, "1.0.0", "1.1.0", history.RolledBack, history.Interrupted, "")
			if got[0].Reason != history.Interrupted {
				t.Errorf("reason %q", got[0].Reason)
			}
			log := f.read("statuses/history/" + got[0].ID + ".log")
			if !strings.HasPrefix(log, "==> 00-run.sh of v1.1.0\n") || !strings.Contains(log, "==> 01-run.sh of v1.0.0\n") {
				t.Errorf("log of the interrupted run:\n%s", log)
			}
		})
	}
	t.Run("after-last-step", func(t *testing.T) {
		f := base.copyOf(t)
		if r := f.exec([]string{crashEnv + "script-03-done"}, "apply", "--to", "v1.1.0", "--root", f.root); r.Code != -1 {
			t.Fatalf("apply was not killed: %s", r)
		}
		f.must("recover")
		checkEntry(t, f.history()[0], history.Apply, "1.0.0", "1.1.0", history.Success, "finished by recover", "")
	})
	t.Run("journal-lost", func(t *testing.T) {
		f := base.copyOf(t)
		if r := f.exec([]string{crashEnv + "installed"}, "apply", "--to", "v1.1.0", "--root", f.root); r.Code != -1 {
			t.Fatalf("apply was not killed: %s", r)
		}
		if err := os.Remove(f.path(".hoist/journal")); err != nil {
			t.Fatal(err)
		}
		f.must("recover")
		got := f.history()
		if len(got) != 3 {
			t.Fatalf("entries: %+v", got)
		}
		checkEntry(t, got[0], history.Recover, "1.0.0", "1.1.0", history.RolledBack, history.Interrupted, "")
		checkEntry(t, got[1], history.Apply, "1.0.0", "1.1.0", history.Failed, history.Interrupted, "")
	})
}

// The published history keeps 100 entries and the logs of 10 runs, and a
// malformed copy is rewritten by the next run.
func TestHistoryCaps(t *testing.T) {
	f := atV100(t)
	var seeded strings.Builder
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 150 {
		id := fmt.Sprintf("20260101T000000Z-%d", i+2)
		line, _ := json.Marshal(history.Entry{ID: id, Action: history.Apply, To: "0.1.0", Started: start, Finished: start, Result: history.Failed})
		seeded.Write(append(line, '\n'))
		if err := os.WriteFile(f.path("statuses/history/"+id+".log"), []byte("old\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(f.path(".hoist/history.jsonl"), []byte(seeded.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.path("statuses/history.json"), []byte("{garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.must("apply", "--to", "v1.1.0")
	got := f.history()
	if len(got) != history.Keep || got[0].ID[len(got[0].ID)-4:] != "-152" || got[0].Result != history.Success {
		t.Fatalf("%d entries, newest %+v", len(got), got[0])
	}
	logs, err := os.ReadDir(f.path("statuses/history"))
	if err != nil || len(logs) != history.KeepLogs {
		t.Errorf("%d logs, want %d: %v", len(logs), history.KeepLogs, err)
	}
	if !got[0].Log || got[history.KeepLogs].Log {
		t.Errorf("log flags: newest %v, 11th %v", got[0].Log, got[history.KeepLogs].Log)
	}
}
