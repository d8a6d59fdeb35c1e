package tufclient

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path"

	"github.com/hoist-dev/hoist/internal/safefs"
)

// PublishedRoot is the copy of the engine's trusted root.json in the
// statuses directory (statuses/tuf-root.json): the trust anchor of the
// manager's discovery, which sees nothing else of the root. It is public
// (signed metadata); the engine never trusts it, only compares it with the
// root it copies.
const PublishedRoot = "tuf-root.json"

// PublishRoot copies the trusted root of the app root root (StateDir) to
// PublishedRoot in statuses, unless the copy already has its bytes (a
// root rarely changes; a write costs two fsyncs per transaction), or
// removes the copy when there is none (a git repository).
func PublishRoot(root, statuses *os.Root) error {
	data, err := safefs.ReadFile(root, path.Join(StateDir, RootFile), MaxRoot)
	if errors.Is(err, fs.ErrNotExist) {
		if err := statuses.Remove(PublishedRoot); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if err != nil {
		return err
	}
	// ReadFile refuses a symlink or a hard link the manager put there.
	if published, err := ReadPublishedRoot(statuses); err == nil && bytes.Equal(published, data) {
		return nil
	}
	return safefs.WriteFile(statuses, PublishedRoot, data, 0o644)
}

// ReadPublishedRoot reads PublishedRoot from statuses, for the manager.
func ReadPublishedRoot(statuses *os.Root) ([]byte, error) {
	return safefs.ReadFile(statuses, PublishedRoot, MaxRoot)
}
