package history

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newStore is a Store on a fresh app root laid out as hoist init does.
func newStore(t testing.TB) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{".hoist", "statuses"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	statuses, err := root.OpenRoot("statuses")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { statuses.Close(); root.Close() })
	return NewStore(root, statuses), dir
}

var t0 = time.Date(2026, 12, 5, 12, 1, 2, 0, time.UTC)

// run records a finished run the way the engine does: started, output,
// finished.
func run(t *testing.T, s *Store, output string) Entry {
	t.Helper()
	id, err := s.NextID(t0)
	if err != nil {
		t.Fatal(err)
	}
	e := Entry{ID: id, Action: Apply, From: "1.0.0", To: "1.1.0", Started: t0}
	if err := s.Record(e); err != nil {
		t.Fatal(err)
	}
	f, err := s.RunLog(id)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(output)
	f.Close()
	e.Finished, e.Result = t0.Add(3*time.Second), Success
	if err := s.KeepLog(id); err != nil {
		t.Fatal(err)
	}
	if err := s.Record(e); err != nil {
		t.Fatal(err)
	}
	return e
}

func published(t *testing.T, s *Store) []Entry {
	t.Helper()
	entries, err := Read(s.statuses)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func TestRecordMergesByID(t *testing.T) {
	s, _ := newStore(t)
	a := run(t, s, "first\n")
	id, _ := s.NextID(t0)
	running := Entry{ID: id, Action: Rollback, From: "1.1.0", To: "1.0.0", Started: t0}
	if err := s.Record(running); err != nil {
		t.Fatal(err)
	}
	got := published(t, s)
	if len(got) != 2 || got[0].ID != id || got[0].Result != "" || got[1].ID != a.ID || got[1].Result != Success || !got[1].Log {
		t.Fatalf("published: %+v", got)
	}
	if a.ID != "20261205T120102Z-1" || id != "20261205T120102Z-2" {
		t.Errorf("ids %s %s: want the start time and a rising sequence", a.ID, id)
	}
	// The clock went back: ids still rise.
	if next, _ := s.NextID(t0.Add(-time.Hour)); next != "20261205T110102Z-3" {
		t.Errorf("after a clock jump: %s", next)
	}
	// The next run to finish closes the one nobody finished (a crash
	// whose journal was lost).
	run(t, s, "")
	if got := published(t, s); got[1].ID != id || got[1].Result != Failed || got[1].Reason != Interrupted {
		t.Errorf("abandoned run: %+v", got[1])
	}
}

// A torn last line, as a crash mid-append leaves, is ignored on read and
// cut off by the next append, which must not be glued to it.
func TestTornLastLine(t *testing.T) {
	s, dir := newStore(t)
	a := run(t, s, "")
	f, err := os.OpenFile(filepath.Join(dir, File), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"id":"20261205T120102Z-2","action":"ap`)
	f.Close()
	entries, err := s.Entries()
	if err != nil || len(entries) != 1 || entries[0] != a {
		t.Fatalf("with a torn line: %+v %v", entries, err)
	}
	b := run(t, s, "")
	entries, err = s.Entries()
	if err != nil || len(entries) != 2 || entries[1].ID != b.ID || b.ID != "20261205T120102Z-2" {
		t.Fatalf("after the next run: %+v %v", entries, err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, File))
	if strings.Contains(string(data), `"ap{`) || !strings.HasSuffix(string(data), "\n") {
		t.Errorf("the torn line is still there:\n%s", data)
	}
}

// statuses/history.json holds the newest Keep entries and the logs of the
// newest KeepLogs runs; File is compacted to its newest entries, so the
// sequence goes on.
func TestCaps(t *testing.T) {
	s, dir := newStore(t)
	var old strings.Builder
	const seeded = 2000 // well over compactSize
	for i := range seeded {
		line, _ := json.Marshal(Entry{ID: fmt.Sprintf("20261205T120102Z-%d", i+1), Action: Apply, To: "1.0.0", Started: t0, Result: Failed})
		old.Write(append(line, '\n'))
	}
	if err := os.WriteFile(filepath.Join(dir, File), []byte(old.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range KeepLogs + 2 {
		run(t, s, fmt.Sprintf("output of run %d\n", i+1))
	}
	got := published(t, s)
	newest := fmt.Sprintf("20261205T120102Z-%d", seeded+KeepLogs+2)
	if len(got) != Keep || got[0].ID != newest || got[0].Result != Success {
		t.Fatalf("published %d entries, newest %+v", len(got), got[0])
	}
	logs, err := os.ReadDir(filepath.Join(dir, "statuses", LogDir))
	if err != nil || len(logs) != KeepLogs {
		t.Fatalf("%d logs kept, want %d (%v)", len(logs), KeepLogs, err)
	}
	for i, e := range got {
		if e.Log != (i < KeepLogs) {
			t.Errorf("entry %d (%s): log %v", i, e.ID, e.Log)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, File))
	if err != nil || fi.Size() > compactSize {
		t.Errorf("%s not compacted: %v %v", File, fi.Size(), err)
	}
	if entries, _ := s.Entries(); entries[len(entries)-1].ID != newest {
		t.Errorf("compaction lost the newest entry: %+v", entries[len(entries)-1])
	}
	if runs, _ := os.ReadDir(filepath.Join(dir, runLogDir)); len(runs) != 0 {
		t.Errorf("run logs left behind: %v", runs)
	}
}

// Pruning deletes only the logs the engine wrote; a published log is the
// redacted tail of the run's output, from a line start.
func TestKeepLog(t *testing.T) {
	s, dir := newStore(t)
	logDir := filepath.Join(dir, "statuses", LogDir)
	os.Mkdir(logDir, 0o755)
	for _, name := range []string{"notes.txt", "20261205T120102Z-0.log", "x.log"} {
		os.WriteFile(filepath.Join(logDir, name), []byte("keep me"), 0o644)
	}
	long := strings.Repeat("0123456789abcdef\n", MaxLog/16) + "clone https://user:ghp_SECRET@example.com/r.git\nTHE END\n"
	e := run(t, s, long)
	data, err := os.ReadFile(filepath.Join(logDir, e.ID+".log"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if len(data) > MaxLog || !strings.HasPrefix(text, "0123456789abcdef\n") || !strings.HasSuffix(text, "THE END\n") {
		t.Errorf("log: %d bytes, starts %q", len(data), text[:20])
	}
	if strings.Contains(text, "ghp_SECRET") {
		t.Error("the log shows a credential")
	}
	for range KeepLogs {
		run(t, s, "")
	}
	for _, name := range []string{"notes.txt", "20261205T120102Z-0.log", "x.log"} {
		if _, err := os.Stat(filepath.Join(logDir, name)); err != nil {
			t.Errorf("pruning removed %s: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(logDir, e.ID+".log")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the 11th newest log is still there: %v", err)
	}
}

// A symlink in place of statuses/history is replaced, never followed.
func TestLogDirSymlink(t *testing.T) {
	s, dir := newStore(t)
	elsewhere := filepath.Join(dir, "statuses", "elsewhere")
	os.Mkdir(elsewhere, 0o755)
	if err := os.Symlink("elsewhere", filepath.Join(dir, "statuses", LogDir)); err != nil {
		t.Fatal(err)
	}
	e := run(t, s, "output\n")
	if fi, err := os.Lstat(filepath.Join(dir, "statuses", LogDir)); err != nil || !fi.IsDir() {
		t.Fatalf("%s: %v %v", LogDir, fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(elsewhere); len(ents) != 0 {
		t.Errorf("wrote through the symlink: %v", ents)
	}
	if f, err := OpenLog(s.statuses, e.ID); err != nil {
		t.Error(err)
	} else {
		f.Close()
	}
}

func TestReadHostile(t *testing.T) {
	s, dir := newStore(t)
	good := run(t, s, "")
	write := func(data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "statuses", Published), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("{not json")
	if _, err := Read(s.statuses); !errors.Is(err, ErrMalformed) {
		t.Errorf("malformed: %v", err)
	}
	goodJSON, _ := json.Marshal(good)
	write(`[{"id":"../../x","action":"apply"},{"id":"20261205T120102Z-9","action":"format-disk"},` +
		`{"id":"20261205T120102Z-8","action":"apply","result":"ok"},` + string(goodJSON) + `]`)
	if got := published(t, s); len(got) != 1 || got[0].ID != good.ID {
		t.Errorf("invalid entries kept: %+v", got)
	}
	os.Remove(filepath.Join(dir, "statuses", Published))
	if got := published(t, s); got == nil || len(got) != 0 {
		t.Errorf("no history: %#v", got)
	}
	// The next run rewrites the file from the root-only record.
	write("{not json")
	run(t, s, "")
	if got := published(t, s); len(got) != 2 {
		t.Errorf("after the next run: %+v", got)
	}
}

func TestOpenLogRefusesBadIDs(t *testing.T) {
	s, dir := newStore(t)
	os.WriteFile(filepath.Join(dir, "statuses", "secret.log"), []byte("no"), 0o644)
	for _, id := range []string{"", "..", "../secret", "../../.hoist/config.json", "20261205T120102Z-1/../../secret",
		"20261205T120102Z-0", "20261205T120102Z-01", "20261205T120102Z-1\x00", strings.Repeat("9", 5000), "secret"} {
		if f, err := OpenLog(s.statuses, id); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("OpenLog(%.40q): %v", id, err)
			if f != nil {
				f.Close()
			}
		}
	}
}

// BenchmarkRun is one run's history work (NextID, two Records) on a
// history just under compaction, as a node that has updated for years has.
func BenchmarkRun(b *testing.B) {
	first, dir := newStore(b)
	var old strings.Builder
	for i := 0; old.Len() < compactSize-4096; i++ {
		line, _ := json.Marshal(Entry{ID: fmt.Sprintf("20261205T120102Z-%d", i+1), Action: Apply, From: "1.0.0", To: "1.1.0", Started: t0, Finished: t0, Result: Success})
		old.Write(append(line, '\n'))
	}
	file := filepath.Join(dir, File)
	for b.Loop() {
		b.StopTimer()
		if err := os.WriteFile(file, []byte(old.String()), 0o600); err != nil {
			b.Fatal(err)
		}
		s := NewStore(first.root, first.statuses)
		b.StartTimer()
		id, err := s.NextID(t0)
		if err != nil {
			b.Fatal(err)
		}
		e := Entry{ID: id, Action: Rollback, From: "1.1.0", To: "1.0.0", Started: t0}
		if err := s.Record(e); err != nil {
			b.Fatal(err)
		}
		e.Finished, e.Result = t0, Success
		if err := s.Record(e); err != nil {
			b.Fatal(err)
		}
	}
}
