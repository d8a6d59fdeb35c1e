package fetch

import (
	"errors"
	"fmt"
	"io"

	"github.com/hoist-dev/hoist/internal/packguard"
)

// guardedStorage stores a fetched pack through packguard: a pack whose
// objects would inflate to more than the release may hold is refused
// before the pack writer behind it inflates the object that crosses the
// limit. (The pack writer checks the object count itself, for every pack.)
type guardedStorage struct {
	packStorage
	limits packguard.Limits
}

func newGuardedStorage(s packStorage, maxBytes int64) guardedStorage {
	return guardedStorage{s, packguard.Limits{Bytes: maxBytes, Objects: maxPackObjects}}
}

func (s guardedStorage) PackfileWriter() (io.WriteCloser, error) {
	w, err := newPackWriter(s.ctx, s.Storage)
	if err != nil {
		return nil, err
	}
	return guardedWriter{packguard.NewWriter(w, s.limits), w}, nil
}

type guardedWriter struct {
	guard *packguard.Writer // writes to dst
	dst   *packWriter
}

func (w guardedWriter) Write(p []byte) (int, error) {
	n, err := w.guard.Write(p)
	return n, tooLarge(err)
}

// Close ends the guard's scan and closes the pack writer. A pack the guard
// refused for its size is cut short and dropped unindexed: indexing it
// would inflate once more every object before the one that crossed the
// limit, only to fail.
func (w guardedWriter) Close() error {
	guardErr := w.guard.Close()
	if errors.Is(guardErr, packguard.ErrTooLarge) {
		w.dst.err = guardErr // the pack writer stores nothing and removes its temp file
		w.dst.Close()
		return tooLarge(guardErr)
	}
	if err := w.dst.Close(); err != nil {
		return err
	}
	return guardErr
}

// tooLarge marks a pack refused for its size as a release too large.
func tooLarge(err error) error {
	if errors.Is(err, packguard.ErrTooLarge) {
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	return err
}
