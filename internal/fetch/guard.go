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
	w, err := s.packStorage.PackfileWriter()
	if err != nil {
		return nil, err
	}
	return guardedWriter{packguard.NewWriter(w, s.limits), w}, nil
}

type guardedWriter struct {
	guard *packguard.Writer // writes to dst
	dst   io.WriteCloser
}

func (w guardedWriter) Write(p []byte) (int, error) {
	n, err := w.guard.Write(p)
	return n, tooLarge(err)
}

// Close ends the guard's scan and closes the pack writer, which is left
// with a pack cut short when the guard refused it.
func (w guardedWriter) Close() error {
	guardErr := w.guard.Close()
	err := w.dst.Close()
	if err == nil || errors.Is(guardErr, packguard.ErrTooLarge) {
		return tooLarge(guardErr)
	}
	return err
}

// tooLarge marks a pack refused for its size as a release too large.
func tooLarge(err error) error {
	if errors.Is(err, packguard.ErrTooLarge) {
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	return err
}
