package request

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/hoist-dev/hoist/internal/statusfile"
)

// Watch calls fn with the status now and after each change of the status
// file, in order, until fn returns true or ctx ends. Changes are noticed
// with fsnotify on the statuses/ directory and, in case inotify is not
// available or misses something (some bind mounts, queue overflow), by
// reading the file every poll interval. A status equal to the last one
// passed to fn is not passed again; an unreadable status file is skipped
// until it is readable again.
func Watch(ctx context.Context, statuses *os.Root, poll time.Duration, fn func(statusfile.Status) bool) error {
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w, err := fsnotify.NewWatcher(); err == nil {
		defer w.Close()
		if w.Add(statuses.Name()) == nil {
			events, errs = w.Events, w.Errors
		}
	}
	ticker := time.NewTicker(poll)
	defer ticker.Stop()

	var last statusfile.Status
	first := true
	check := func() bool {
		s, err := statusfile.Read(statuses)
		if err != nil || (!first && s == last) {
			return false
		}
		first, last = false, s
		return fn(s)
	}
	if check() {
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if filepath.Base(ev.Name) != statusfile.Name {
				continue
			}
		case _, ok := <-errs: // an overflow: read the file now
			if !ok {
				errs = nil
			}
		case <-ticker.C:
		}
		if check() {
			return nil
		}
	}
}
