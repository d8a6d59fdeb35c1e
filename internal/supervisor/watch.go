package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// rescanBatch bounds the directory entries held in memory during a rescan,
// however many names the manager created.
const rescanBatch = 256

// errDirGone means the signals directory itself was moved away (or
// removed), so the watch is lost; the supervisor watches events/signals
// again once it is a real directory.
var errDirGone = errors.New("signals directory was moved; watch lost")

// watcher reports names appearing in the signals directory, from one
// inotify watch:
//   - arrivals (IN_CLOSE_WRITE, IN_MOVED_TO): the name is complete, a signal
//     if it is a regular file;
//   - creations (IN_CREATE): only used to report fifos, directories,
//     symlinks and hard links made in place, which never close after
//     writing.
type watcher struct {
	dir string
	in  *inotify
}

// watchEvents are the events a watcher asks for; inotify adds IN_IGNORED
// (the watch ended) and IN_Q_OVERFLOW (events were lost) by itself.
const watchEvents = unix.IN_CREATE | unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_MOVE_SELF

// errOverflow means the kernel's event queue overflowed.
var errOverflow = errors.New("inotify event queue overflowed")

// sighting is what one event says about the signals directory.
type sighting struct {
	name     string // entry concerned; empty when none
	complete bool   // closed after writing or moved in: a signal if regular
	lost     error  // events were lost (queue overflow): rescan
}

// watchDir starts watching dir, which must be the directory signals is open on.
func watchDir(dir string, signals *os.Root) (*watcher, error) {
	in, err := watchInotify(dir, watchEvents)
	if err != nil {
		return nil, err
	}
	w := &watcher{dir: dir, in: in}
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

func (w *watcher) close() { w.in.close() }

// next blocks until the next event and says what it means. It fails only
// when the watch is gone, and returns ctx's error when ctx is done.
func (w *watcher) next(ctx context.Context) (sighting, error) {
	mask, name, err := w.in.next(ctx)
	switch {
	case err != nil:
		return sighting{}, err
	case mask&unix.IN_Q_OVERFLOW != 0:
		return sighting{lost: errOverflow}, nil
	case mask&(unix.IN_MOVE_SELF|unix.IN_IGNORED) != 0:
		return sighting{}, errDirGone
	case mask&(unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO) != 0:
		return sighting{name: name, complete: true}, nil
	case mask&unix.IN_CREATE != 0:
		return sighting{name: name}, nil
	}
	return sighting{}, nil // IN_MOVED_FROM: the name left
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
