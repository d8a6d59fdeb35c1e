package httpcache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"sync"

	"github.com/hoist-dev/hoist/internal/safefs"
)

// MaxEntries bounds a store: keys are URLs and refs, one per release read.
const MaxEntries = 256

// Memory is a Store in memory, holding at most MaxEntries entries.
type Memory struct {
	mu      sync.Mutex // guards entries
	entries map[string]Entry
}

// NewMemory returns an empty Memory store.
func NewMemory() *Memory { return &Memory{entries: map[string]Entry{}} }

func (m *Memory) Load(key string) (Entry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	return e, ok
}

func (m *Memory) Save(key string, e Entry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.entries[key]; !ok && len(m.entries) >= MaxEntries {
		for k := range m.entries { // any one: a lost entry costs one full request
			delete(m.entries, k)
			break
		}
	}
	m.entries[key] = e
	return nil
}

// Dir is a Store of one file per key in a directory that only its owner
// writes (under .hoist/). File names are the sha256 of the key, so URLs,
// which may hold credentials, are not written as names. Past MaxEntries
// files the oldest are removed.
type Dir struct {
	dir      *os.Root
	maxBytes int64 // of one file
	mu       sync.Mutex
}

// NewDir returns a Store in dir for bodies of at most maxBody bytes.
func NewDir(dir *os.Root, maxBody int64) *Dir {
	// JSON's base64 costs 4/3 of the body, plus the validators.
	return &Dir{dir: dir, maxBytes: maxBody/3*4 + 8<<10}
}

func fileName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:]) + ".json"
}

// Load returns key's entry; a missing, unreadable or damaged file is no
// entry (the request goes out unconditional).
func (d *Dir) Load(key string) (Entry, bool) {
	data, err := safefs.ReadFile(d.dir, fileName(key), d.maxBytes)
	if err != nil {
		return Entry{}, false
	}
	var e Entry
	if json.Unmarshal(data, &e) != nil {
		return Entry{}, false
	}
	return e, true
}

func (d *Dir) Save(key string, e Entry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := safefs.WriteFile(d.dir, fileName(key), data, 0o600); err != nil {
		return err
	}
	return d.prune()
}

// prune removes the oldest files past MaxEntries; d.mu must be held.
func (d *Dir) prune() error {
	f, err := d.dir.Open(".")
	if err != nil {
		return err
	}
	infos, err := f.Readdir(-1)
	f.Close()
	if err != nil {
		return fmt.Errorf("list cache: %w", err)
	}
	if len(infos) <= MaxEntries {
		return nil
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].ModTime().Before(infos[j].ModTime()) })
	for _, fi := range infos[:len(infos)-MaxEntries] {
		if err := d.dir.Remove(fi.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}
