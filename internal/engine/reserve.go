package engine

import (
	"errors"
	"syscall"

	"github.com/hoist-dev/hoist/internal/safefs"
)

// The status reserve is disk space set aside in .hoist/ so that the final
// status can still be written when scripts or the user filled the disk: a
// status left at "installing" blocks every request of the manager. On
// ENOSPC the reserve is freed and the write tried once more; every run of
// the engine puts it back when there is room again.
const (
	statusReserveFile = ".hoist/status-reserve"
	statusReserveSize = 64 << 10
)

// reserveStatusRoom makes sure the reserve exists; failing to is only
// logged, as it is a fallback for a later failure, not a need of this run.
func (e *Engine) reserveStatusRoom() {
	if fi, err := e.root.Lstat(statusReserveFile); err == nil && fi.Mode().IsRegular() && fi.Size() == statusReserveSize {
		return
	}
	if err := safefs.WriteFile(e.root, statusReserveFile, make([]byte, statusReserveSize), 0o600); err != nil {
		e.log.WithError(err).Warn("could not set disk space aside for the status file")
	}
}

// freeStatusRoom releases the reserve after err, if err is a full disk, and
// reports whether a retry may now succeed.
func (e *Engine) freeStatusRoom(err error) bool {
	return errors.Is(err, syscall.ENOSPC) && e.root.Remove(statusReserveFile) == nil
}
