// Package statusfile reads and writes statuses/update-status.json, the one
// file through which the engine tells the manager (and the user) how an
// update goes. Its schema is Umbrel/Citadel's, unchanged (CONTRACT §3).
//
// The directory is writable by the unprivileged manager, so the file is
// untrusted input for root: reads are capped, refuse symlinks and hard links
// (see safefs) and validate every field; writes replace the file atomically.
package statusfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/hoist-dev/hoist/internal/clip"
	"github.com/hoist-dev/hoist/internal/redact"
	"github.com/hoist-dev/hoist/internal/safefs"
)

// Name is the status file's name inside statuses/.
const Name = "update-status.json"

// MaxSize caps what is read: a valid status is far smaller.
const MaxSize = 64 << 10

// maxDescription caps the description so a runaway script line cannot bloat
// the file that every page load fetches.
const maxDescription = 1024

// State is the update state.
type State string

// The three states of the schema.
const (
	Installing State = "installing"
	Success    State = "success"
	Failed     State = "failed"
)

// Status is the content of the status file.
type Status struct {
	State       State  `json:"state"`
	Progress    int    `json:"progress"`
	Description string `json:"description"`
	UpdateTo    string `json:"updateTo"`
}

// Default is the status a missing file stands for.
func Default() Status {
	return Status{State: Success, Progress: 100}
}

// ErrInvalid marks a status file whose content breaks the schema.
var ErrInvalid = errors.New("invalid status file")

// Parse decodes and validates a status file's content.
func Parse(data []byte) (Status, error) {
	var s Status
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Status{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return Status{}, fmt.Errorf("%w: trailing data after the JSON object", ErrInvalid)
	}
	if err := s.Validate(); err != nil {
		return Status{}, err
	}
	return s, nil
}

// Validate checks the fields' ranges. It does not judge updateTo beyond its
// length: whoever acts on it validates it as a release tag.
func (s Status) Validate() error {
	switch s.State {
	case Installing, Success, Failed:
	default:
		return fmt.Errorf("%w: unknown state %q", ErrInvalid, clip.To(string(s.State), 40))
	}
	if s.Progress < 0 || s.Progress > 100 {
		return fmt.Errorf("%w: progress %d outside 0-100", ErrInvalid, s.Progress)
	}
	if len(s.UpdateTo) > 64 {
		return fmt.Errorf("%w: updateTo is %d bytes long", ErrInvalid, len(s.UpdateTo))
	}
	return nil
}

// Read returns the status in dir (the statuses/ directory), or Default when
// the file does not exist.
func Read(dir *os.Root) (Status, error) {
	data, err := ReadRaw(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return Default(), nil
	}
	if err != nil {
		return Status{}, err
	}
	return Parse(data)
}

// ReadRaw returns the file's bytes as they are, for serving them verbatim.
func ReadRaw(dir *os.Root) ([]byte, error) {
	data, err := safefs.ReadFile(dir, Name, MaxSize)
	if err != nil {
		return nil, fmt.Errorf("read status file: %w", err)
	}
	return data, nil
}

// Write validates s and atomically replaces the status file in dir. An
// over-long description is shortened, not refused: a status must always be
// writable. The file is public, so URLs in the description lose their
// credentials, whoever wrote the text.
func Write(dir *os.Root, s Status) error { return write(dir, s, safefs.WriteFile) }

// WriteProgress is Write for a status that a later one supersedes, an
// update's progress: the rename is not made durable (no directory fsync),
// so a crash may bring back the status it replaced, never a partial one;
// the update's final status, or recover's, is written with Write.
func WriteProgress(dir *os.Root, s Status) error {
	return write(dir, s, safefs.WriteFileNoDirSync)
}

func write(dir *os.Root, s Status, writeFile func(*os.Root, string, []byte, fs.FileMode) error) error {
	s.Description = clip.To(redact.String(s.Description), maxDescription)
	if err := s.Validate(); err != nil {
		return err
	}
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode status: %w", err)
	}
	if err := writeFile(dir, Name, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write status file: %w", err)
	}
	return nil
}
