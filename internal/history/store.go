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
// root's lock, changes it; so a Store reads File once and then keeps what
// it holds in memory (a run calls NextID and Record three times or more).
type Store struct {
	root     *os.Root // the app root
	statuses *os.Root // statuses/, writable by the manager
	loaded   *runs    // File's entries, once read
	valid    int64    // File's length up to its last complete line
}

// runs are entries merged by id, in the order their ids first appear.
type runs struct {
	list []Entry
	at   map[string]int // id → index in list
}

// put replaces the entry with e's id by e, or appends e.
func (r *runs) put(e Entry) {
	if i, ok := r.at[e.ID]; ok {
		r.list[i] = e
		return
	}
	r.at[e.ID] = len(r.list)
	r.list = append(r.list, e)
}

func newRuns(entries []Entry) *runs {
	r := &runs{at: make(map[string]int, len(entries))}
	for _, e := range entries {
		r.put(e)
	}
	return r
}

// NewStore returns the history of the app root root, whose statuses/ is
// statuses.
func NewStore(root, statuses *os.Root) *Store { return &Store{root: root, statuses: statuses} }

// NextID returns the id of a run starting at start: one sequence number
// above every id recorded.
func (s *Store) NextID(start time.Time) (string, error) {
	r, err := s.read()
	if err != nil {
		return "", err
	}
	n := 0
	for _, e := range r.list {
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
	r, err := s.read()
	if err != nil {
		return err
	}
	changed := append(abandoned(r.list, e), e)
	var lines []byte
	for _, c := range changed {
		line, err := json.Marshal(c)
		if err != nil {
			return err
		}
		lines = append(append(lines, line...), '\n')
	}
	// What File holds is only known after the write: a failed one makes
	// the next call read it again.
	s.loaded = nil
	next := newRuns(r.list)
	for _, c := range changed {
		next.put(c)
	}
	valid := s.valid
	if valid > compactSize {
		next = newRuns(next.list[max(len(next.list)-Keep, 0):])
		valid, err = s.rewrite(next.list)
	} else {
		valid, err = s.append(valid, lines)
	}
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	s.loaded, s.valid = next, valid
	return s.publish(next.list)
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
	r, err := s.read()
	if err != nil {
		return nil, err
	}
	return r.list, nil
}

// read returns File's entries, parsed on the first call, and sets s.valid
// to the length of its valid part (up to the last newline: what follows
// is a torn append).
func (s *Store) read() (*runs, error) {
	if s.loaded != nil {
		return s.loaded, nil
	}
	r, valid, err := s.parse()
	if err != nil {
		return nil, err
	}
	s.loaded, s.valid = r, valid
	return r, nil
}

// parse reads File.
func (s *Store) parse() (*runs, int64, error) {
	r := newRuns(nil)
	f, err := s.root.Open(File)
	if errors.Is(err, fs.ErrNotExist) {
		return r, 0, nil
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
	for line := range bytes.Lines(data) {
		var e Entry
		// A line that does not parse cannot be mended; the others still
		// count.
		if json.Unmarshal(line, &e) == nil && e.validate() == nil {
			r.put(e)
		}
	}
	return r, start + int64(valid), nil
}

// append cuts File to its valid part (dropping a torn line) and appends
// lines, fsynced; it returns File's new length.
func (s *Store) append(valid int64, lines []byte) (int64, error) {
	f, err := s.root.OpenFile(File, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := f.Truncate(valid); err != nil {
		return 0, err
	}
	if _, err := f.WriteAt(lines, valid); err != nil {
		return 0, err
	}
	return valid + int64(len(lines)), f.Sync()
}

// rewrite replaces File with entries, atomically, and returns its length.
func (s *Store) rewrite(entries []Entry) (int64, error) {
	var b bytes.Buffer
	for _, e := range entries {
		line, err := json.Marshal(e)
		if err != nil {
			return 0, err
		}
		b.Write(append(line, '\n'))
	}
	return int64(b.Len()), safefs.WriteFile(s.root, File, b.Bytes(), 0o600)
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
