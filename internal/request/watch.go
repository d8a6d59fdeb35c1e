package request

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/hoist-dev/hoist/internal/statusfile"
)

// Watch calls fn with the status now and after each change of the status
// file, in order, until fn returns true or ctx ends (see WatchChanges).
// When the file cannot be read, fn gets the error too: a missing file comes
// as statusfile.Default() with an error matching fs.ErrNotExist, so the
// caller decides whether it still means success (CONTRACT §3) or, in the
// middle of an update, that the status is unknown. A reading equal to the
// last one passed to fn is not passed again.
func Watch(ctx context.Context, statuses *os.Root, poll time.Duration, fn func(statusfile.Status, error) bool) error {
	type reading struct {
		status statusfile.Status
		err    string
	}
	var last reading
	first := true
	return WatchChanges(ctx, statuses, poll, nil, func() bool {
		s, err := read(statuses)
		r := reading{status: s}
		if err != nil {
			r.err = err.Error()
		}
		if !first && r == last {
			return false
		}
		first, last = false, r
		return fn(s, err)
	})
}

// read is statusfile.Read that tells a missing file apart: it returns the
// default status with the not-exist error.
func read(statuses *os.Root) (statusfile.Status, error) {
	data, err := statusfile.ReadRaw(statuses)
	if errors.Is(err, fs.ErrNotExist) {
		return statusfile.Default(), err
	}
	if err != nil {
		return statusfile.Status{}, err
	}
	return statusfile.Parse(data)
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
