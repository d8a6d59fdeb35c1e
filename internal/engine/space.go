package engine

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// spaceMargin is kept free beyond the estimate, for the journal, logs, the
// status file and metadata.
const spaceMargin = 8 << 20

// preflight refuses to start an update that the disk cannot hold. The
// download needs about the release's size (the tree, plus its packed
// objects while a remote clone runs), estimated as twice the live
// release's; backing up and installing need no data blocks, since both
// hard-link. A disk that fills up anyway fails the update cleanly: every
// step is undone.
func (e *Engine) preflight(live release, staging string) error {
	need := int64(spaceMargin)
	if _, err := e.root.Lstat(staging); err != nil {
		need += 2 * e.size(live)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(e.dir, &fs); err != nil {
		return fmt.Errorf("free disk space: %w", err)
	}
	free := int64(fs.Bavail) * int64(fs.Bsize)
	if free < need {
		return fmt.Errorf("not enough free disk space: the update needs about %s, %s is free", mib(need), mib(free))
	}
	return nil
}

// size sums the sizes of the live release's files.
func (e *Engine) size(live release) int64 {
	if live.manifest == nil {
		return 0
	}
	var total int64
	for _, f := range live.manifest.Files {
		if fi, err := e.root.Lstat(f.Path); err == nil && fi.Mode().IsRegular() {
			total += fi.Size()
		}
	}
	return total
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
