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
// file, in order, until fn returns true or ctx ends (see WatchChanges). A
// status equal to the last one passed to fn is not passed again; an
// unreadable status file is skipped until it is readable again.
func Watch(ctx context.Context, statuses *os.Root, poll time.Duration, fn func(statusfile.Status) bool) error {
	var last statusfile.Status
	first := true
	return WatchChanges(ctx, statuses, poll, nil, func() bool {
		s, err := statusfile.Read(statuses)
		if err != nil || (!first && s == last) {
			return false
		}
		first, last = false, s
		return fn(s)
	})
}

// WatchChanges calls changed now and whenever the status file may have
// changed, until changed returns true or ctx ends. Changes are noticed with
// fsnotify on the statuses/ directory and, in case inotify is not
// available or misses something (some bind mounts, queue overflow), every
// poll interval. live, if set, is told whether fsnotify watches: at the
// start (after the watch is in place and before the first call of changed,
// so no change falls between the two), again with false if it stops, and
// with false when WatchChanges returns. Only while it watches can a caller
// trust its last read until the next call.
func WatchChanges(ctx context.Context, statuses *os.Root, poll time.Duration, live func(bool), changed func() bool) error {
	if live == nil {
		live = func(bool) {}
	}
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w, err := fsnotify.NewWatcher(); err == nil {
		defer w.Close()
		if w.Add(statuses.Name()) == nil {
			events, errs = w.Events, w.Errors
		}
	}
	live(events != nil)
	defer live(false)
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	if changed() {
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-events:
			if !ok {
				events = nil
				live(false)
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
		if changed() {
			return nil
		}
	}
}
