package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/hoist-dev/hoist/internal/redact"
	"github.com/hoist-dev/hoist/internal/safefs"
)

// Paths of the history. File is relative to the app root; Published and
// LogDir to statuses/.
const (
	File      = ".hoist/history.jsonl"
	Published = "history.json"
	LogDir    = "history"
)

const (
	// Keep is how many entries statuses/history.json holds.
	Keep = 100
	// compactSize is the size past which File is rewritten with its newest
	// Keep entries (a few hundred runs).
	compactSize = 256 << 10
	// maxRead caps how much of File is read: its tail, should compaction
	// ever have failed.
	maxRead = 4 << 20
)

// Store is the history of one app root. Only the engine, holding the
// root's lock, changes it.
type Store struct {
	root     *os.Root // the app root
	statuses *os.Root // statuses/, writable by the manager
}

// NewStore returns the history of the app root root, whose statuses/ is
// statuses.
func NewStore(root, statuses *os.Root) *Store { return &Store{root: root, statuses: statuses} }

// NextID returns the id of a run starting at start: one sequence number
// above every id recorded.
func (s *Store) NextID(start time.Time) (string, error) {
	entries, _, err := s.read()
	if err != nil {
		return "", err
	}
	n := 0
	for _, e := range entries {
		n = max(n, seq(e.ID))
	}
	return newID(start, n+1), nil
}

// Record appends e (replacing an entry of the same id) durably and
// publishes the newest entries in statuses/history.json. A finished e also
// closes the runs left marked as running (see abandoned).
func (s *Store) Record(e Entry) error {
	e.Reason = clipText(redact.String(e.Reason))
	e.Script = clipText(e.Script)
	e.Log = false // set when published
	if err := e.validate(); err != nil {
		return err
	}
	entries, valid, err := s.read()
	if err != nil {
		return err
	}
	changed := append(abandoned(entries, e), e)
	var lines []byte
	for _, c := range changed {
		line, err := json.Marshal(c)
		if err != nil {
			return err
		}
		lines = append(append(lines, line...), '\n')
		entries = merge(entries, c)
	}
	if valid > compactSize {
		err = s.rewrite(entries[max(len(entries)-Keep, 0):])
	} else {
		err = s.append(valid, lines)
	}
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	return s.publish(entries)
}

// abandoned returns, when e ends a run, the other runs still marked as
// running, marked failed: runs are serialised by the root's lock, so these
// ended in a crash whose recover could not name them (their journal was
// lost).
func abandoned(entries []Entry, e Entry) []Entry {
	if e.Result == "" {
		return nil
	}
	var out []Entry
	for _, a := range entries {
		if a.Result == "" && a.ID != e.ID {
			a.Result, a.Reason = Failed, Interrupted
			out = append(out, a)
		}
	}
	return out
}

// Entries returns every entry of File, oldest first.
func (s *Store) Entries() ([]Entry, error) {
	entries, _, err := s.read()
	return entries, err
}

// read parses File: its entries, merged by id, in the order their ids
// first appear, and the length of its valid part (up to the last newline:
// what follows is a torn append).
func (s *Store) read() ([]Entry, int64, error) {
	f, err := s.root.Open(File)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	data, start, err := safefs.ReadTail(f, maxRead)
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", File, err)
	}
	valid := bytes.LastIndexByte(data, '\n') + 1
	data = data[:valid]
	if start > 0 { // cut mid-line
		_, data, _ = bytes.Cut(data, []byte("\n"))
	}
	var entries []Entry
	for line := range bytes.Lines(data) {
		var e Entry
		// A line that does not parse cannot be mended; the others still
		// count.
		if json.Unmarshal(line, &e) == nil && e.validate() == nil {
			entries = merge(entries, e)
		}
	}
	return entries, start + int64(valid), nil
}

// merge replaces the entry with e's id by e, or appends e.
func merge(entries []Entry, e Entry) []Entry {
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].ID == e.ID {
			entries[i] = e
			return entries
		}
	}
	return append(entries, e)
}

// append cuts File to its valid part (dropping a torn line) and appends
// line, fsynced.
func (s *Store) append(valid int64, line []byte) error {
	f, err := s.root.OpenFile(File, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(valid); err != nil {
		return err
	}
	if _, err := f.WriteAt(line, valid); err != nil {
		return err
	}
	return f.Sync()
}

// rewrite replaces File with entries, atomically.
func (s *Store) rewrite(entries []Entry) error {
	var b bytes.Buffer
	for _, e := range entries {
		line, err := json.Marshal(e)
		if err != nil {
			return err
		}
		b.Write(append(line, '\n'))
	}
	return safefs.WriteFile(s.root, File, b.Bytes(), 0o600)
}

// publish writes the newest Keep entries, newest first, to
// statuses/history.json, each saying whether its log is kept.
func (s *Store) publish(entries []Entry) error {
	out := make([]Entry, 0, min(len(entries), Keep))
	for i := len(entries) - 1; i >= 0 && len(out) < Keep; i-- {
		e := entries[i]
		e.Log = s.hasLog(e.ID)
		out = append(out, e)
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	if err := safefs.WriteFile(s.statuses, Published, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("publish the history: %w", err)
	}
	return nil
}

// hasLog reports whether run id's log is kept.
func (s *Store) hasLog(id string) bool {
	fi, err := s.statuses.Lstat(logName(id))
	return err == nil && fi.Mode().IsRegular()
}
