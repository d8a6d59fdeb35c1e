package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/fsnotify/fsnotify"
)

// rescanBatch bounds the directory entries held in memory during a rescan,
// however many names the manager created.
const rescanBatch = 256

// errDirGone means the signals directory itself was moved away, so the
// watch is lost; the supervisor watches events/signals again once it is a
// real directory.
var errDirGone = errors.New("signals directory was moved; watch lost")

// watcher reports names appearing in the signals directory. Two inotify
// watches are needed because fsnotify reports IN_CREATE and IN_MOVED_TO as
// the same Create operation:
//   - arrivals (IN_CLOSE_WRITE, IN_MOVED_TO): the name is complete, a signal
//     if it is a regular file;
//   - creations (IN_CREATE): only used to report fifos, directories,
//     symlinks and hard links made in place, which never close after
//     writing.
type watcher struct {
	dir       string
	arrivals  *fsnotify.Watcher
	creations *fsnotify.Watcher
}

// sighting is what one event says about the signals directory.
type sighting struct {
	name     string // entry concerned; empty when none
	complete bool   // closed after writing or moved in: a signal if regular
	lost     error  // events were lost (queue overflow, read error): rescan
}

// watchDir starts watching dir, which must be the directory signals is open on.
func watchDir(dir string, signals *os.Root) (*watcher, error) {
	w := &watcher{dir: dir}
	var err error
	if w.arrivals, err = addWatch(dir, fsnotify.Rename|opCloseWrite); err != nil {
		return nil, err
	}
	if w.creations, err = addWatch(dir, fsnotify.Create); err != nil {
		w.arrivals.Close()
		return nil, err
	}
	// The watch is set by path; make sure it is the directory opened through
	// the root and not something swapped in between.
	watched, err := os.Stat(dir)
	if err == nil {
		var opened os.FileInfo
		if opened, err = signals.Stat("."); err == nil && !os.SameFile(watched, opened) {
			err = fmt.Errorf("%s changed while starting to watch it", dir)
		}
	}
	if err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

func addWatch(dir string, ops fsnotify.Op) (*fsnotify.Watcher, error) {
	opt, err := withOps(fsnotify.WithBufferSize(0), ops)
	if err != nil {
		return nil, err
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	if err := fw.AddWith(dir, opt); err != nil {
		fw.Close()
		return nil, fmt.Errorf("watch %s: %w", dir, err)
	}
	return fw, nil
}

func (w *watcher) close() {
	w.arrivals.Close()
	w.creations.Close()
}

// next blocks until the next event and says what it means. It fails only
// when the watch is gone, and returns ctx's error when ctx is done.
func (w *watcher) next(ctx context.Context) (sighting, error) {
	select {
	case <-ctx.Done():
		return sighting{}, ctx.Err()
	case e, open := <-w.arrivals.Events:
		switch {
		case !open:
			return sighting{}, fsnotify.ErrClosed
		case e.Name == w.dir:
			return sighting{}, errDirGone
		case e.Has(fsnotify.Create) || e.Has(opCloseWrite):
			return sighting{name: filepath.Base(e.Name), complete: true}, nil
		}
		return sighting{}, nil // IN_MOVED_FROM: the name left
	case e, open := <-w.creations.Events:
		if !open {
			return sighting{}, fsnotify.ErrClosed
		}
		return sighting{name: filepath.Base(e.Name)}, nil
	case err, open := <-w.arrivals.Errors:
		return w.watchError(err, open)
	case err, open := <-w.creations.Errors:
		return w.watchError(err, open)
	}
}

// watchError turns an fsnotify error into a rescan: fsnotify keeps reading
// after any error, but events may be missing.
func (w *watcher) watchError(err error, open bool) (sighting, error) {
	if !open {
		return sighting{}, fsnotify.ErrClosed
	}
	return sighting{lost: err}, nil
}

// rescan calls see for every name in the signals directory, reading it in
// batches so that memory stays bounded.
func rescan(signals *os.Root, see func(name string)) error {
	d, err := signals.Open(".")
	if err != nil {
		return fmt.Errorf("rescan: %w", err)
	}
	defer d.Close()
	for {
		entries, err := d.ReadDir(rescanBatch)
		for _, e := range entries {
			see(e.Name())
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("rescan: %w", err)
		}
	}
}
