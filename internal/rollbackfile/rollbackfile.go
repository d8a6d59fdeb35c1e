// Package rollbackfile reads and writes statuses/rollback.json, where the
// engine tells the manager what it needs to know about rollbacks and cannot
// see (it has no access to .hoist/): whether a backup is there to roll back
// to, and which versions the node rolled back from, which the manager's
// automatic update never requests again.
//
// The engine writes it after every transaction. The manager can write it
// too (statuses/ is its directory), so root reads it like the status file:
// capped, never through a link, every version validated. What a manager
// could forge here only changes what the manager itself would request.
package rollbackfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"

	"github.com/hoist-dev/hoist/internal/safefs"
	"github.com/hoist-dev/hoist/internal/tag"
)

// Name is the file's name inside statuses/.
const Name = "rollback.json"

// MaxVersions caps each list; older entries are dropped.
const MaxVersions = 32

// maxSize caps what is read; MaxVersions versions take far less.
const maxSize = 16 << 10

// State is the content of the file. Versions are written without "v"
// ("1.0.0"), newest first.
type State struct {
	// Backups are the releases `hoist rollback` can put back, newest first.
	Backups []string `json:"backups"`
	// RolledBackFrom are releases the node rolled back from: by a user's
	// rollback, or restored after a failed update.
	RolledBackFrom []string `json:"rolled_back_from"`
}

// Read returns the state in dir (statuses/); a missing file is the zero
// State: no backup, nothing rolled back from.
func Read(dir *os.Root) (State, error) {
	var s State
	data, err := safefs.ReadFile(dir, Name, maxSize)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read %s: %w", Name, err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return State{}, fmt.Errorf("parse %s: %w", Name, err)
	}
	for _, v := range slices.Concat(s.Backups, s.RolledBackFrom) {
		if _, err := tag.Parse("v" + v); err != nil {
			return State{}, fmt.Errorf("%s: %w", Name, err)
		}
	}
	return s, nil
}

// Write atomically replaces the file in dir with s, lists capped.
func Write(dir *os.Root, s State) error {
	s.Backups = capped(s.Backups)
	s.RolledBackFrom = capped(s.RolledBackFrom)
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode %s: %w", Name, err)
	}
	return safefs.WriteFile(dir, Name, append(data, '\n'), 0o644)
}

// WasRolledBackFrom reports whether the node rolled back from version v
// ("1.0.0").
func (s State) WasRolledBackFrom(v string) bool { return slices.Contains(s.RolledBackFrom, v) }

// NoteRolledBackFrom puts v first in RolledBackFrom.
func (s *State) NoteRolledBackFrom(v string) {
	s.RolledBackFrom = append([]string{v}, slices.DeleteFunc(s.RolledBackFrom, func(x string) bool { return x == v })...)
}

// Installed forgets that the node rolled back from v: v was installed
// again, at a user's request.
func (s *State) Installed(v string) {
	s.RolledBackFrom = slices.DeleteFunc(s.RolledBackFrom, func(x string) bool { return x == v })
}

func capped(vs []string) []string {
	if vs == nil {
		return []string{}
	}
	return vs[:min(len(vs), MaxVersions)]
}
