package history

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/hoist-dev/hoist/internal/safefs"
)

// maxPublished caps what is read of statuses/history.json: Keep entries
// whose fields are all at their caps stay well below it.
const maxPublished = 1 << 20

// ErrMalformed marks a statuses/history.json that is not a JSON list of
// entries.
var ErrMalformed = errors.New("malformed history")

// Read returns the published history, newest first: no entries when there
// is none yet. The file is in a directory the manager can write: it is
// read capped, never through a symlink or hard link, and entries that do
// not validate are left out.
func Read(statuses *os.Root) ([]Entry, error) {
	data, err := safefs.ReadFile(statuses, Published, maxPublished)
	if errors.Is(err, fs.ErrNotExist) {
		return []Entry{}, nil
	}
	if err != nil {
		return nil, err
	}
	var raw []Entry
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, Published, err)
	}
	entries := make([]Entry, 0, min(len(raw), Keep))
	for _, e := range raw {
		if e.validate() == nil && len(entries) < Keep {
			entries = append(entries, e)
		}
	}
	return entries, nil
}

// OpenLog opens the kept log of run id for reading. An id that is not one
// the engine makes, or a log that is missing, not a regular file or a hard
// link, is an error; a missing or invalid one matches fs.ErrNotExist.
func OpenLog(statuses *os.Root, id string) (*os.File, error) {
	if !ValidID(id) {
		return nil, &fs.PathError{Op: "open", Path: "history log", Err: fs.ErrNotExist}
	}
	return safefs.OpenRegular(statuses, logName(id))
}
