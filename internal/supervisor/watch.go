package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/sys/unix"
)

// rescanBatch bounds the directory entries held in memory during a rescan,
// however many names the manager created.
const rescanBatch = 256

// errDirGone means the signals directory itself was moved away (or
// removed), so the watch is lost; the supervisor watches events/signals
// again once it is a real directory.
var errDirGone = errors.New("signals directory was moved; watch lost")

// errOverflow means the kernel's event queue overflowed.
var errOverflow = errors.New("inotify event queue overflowed")

// watcher reports names appearing in the signals directory. Two watches on
// it feed one loop:
//   - names (fsnotify): a name appeared (Create: created in place or moved
//     in), the directory itself was removed or moved, events were lost;
//   - arrivals (inotify.go, our own watch): a name is complete
//     (IN_CLOSE_WRITE, IN_MOVED_TO). fsnotify cannot say this: it does not
//     export close-write (fsnotify#764) and reports a move-in as Create.
//
// The two are not ordered with respect to each other, and need not be. A
// sighting is a hint; the supervisor decides from the entry on disk. Only
// arrivals, ordered among themselves, say complete; a name that merely
// appeared is served only if it is a hard link, which the disk says (see
// linked). Lost events on either side mean a rescan, a lost directory on
// either side a new watch of both.
type watcher struct {
	dir      string
	names    *fsnotify.Watcher
	arrivals chan seen // from readArrivals, until stop
	stop     context.CancelFunc
	stopped  chan struct{} // closed when readArrivals returns
}

// arrivalEvents are what the arrivals watch asks for; inotify adds
// IN_IGNORED (the watch ended) and IN_Q_OVERFLOW (events were lost).
const arrivalEvents = unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO

// sighting is what one event says about the signals directory.
type sighting struct {
	name     string // entry concerned; empty when none
	complete bool   // closed after writing or moved in: a signal if regular
	lost     error  // events were lost (queue overflow, read error): rescan
}

// seen is one result of the arrivals watch.
type seen struct {
	sighting
	err error
}

// watchDir starts watching dir, which must be the directory signals is open on.
func watchDir(dir string, signals *os.Root) (*watcher, error) {
	// Arrivals first: it refuses a symlink in dir's place, fsnotify follows it.
	in, err := watchInotify(dir, arrivalEvents)
	if err != nil {
		return nil, err
	}
	names, err := fsnotify.NewWatcher()
	if err != nil {
		in.close()
		return nil, fmt.Errorf("fsnotify: %w", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	w := &watcher{dir: dir, names: names, arrivals: make(chan seen), stop: stop, stopped: make(chan struct{})}
	go w.readArrivals(ctx, in)
	if err := names.Add(dir); err != nil {
		w.close()
		return nil, fmt.Errorf("watch %s: %w", dir, err)
	}
	// The watches are set by path; make sure it is the directory opened
	// through the root and not something swapped in between.
	watched, err := os.Lstat(dir)
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

func (w *watcher) close() {
	w.stop()
	<-w.stopped
	w.names.Close()
}

// readArrivals passes what in reports to w.arrivals until ctx is done or in
// fails, then closes in.
func (w *watcher) readArrivals(ctx context.Context, in *inotify) {
	defer close(w.stopped)
	defer in.close()
	for {
		var s seen
		mask, name, err := in.next(ctx)
		switch {
		case err != nil:
			s.err = err
		case mask&unix.IN_Q_OVERFLOW != 0:
			s.lost = errOverflow
		case mask&unix.IN_IGNORED != 0:
			s.err = errDirGone // removed, or its file system unmounted
		default:
			s.sighting = sighting{name: name, complete: true}
		}
		select {
		case w.arrivals <- s:
		case <-ctx.Done():
			return
		}
		if s.err != nil {
			return
		}
	}
}

// next blocks until the next event that says something and says what it
// means. It fails only when the watch is gone, and returns ctx's error
// when ctx is done.
func (w *watcher) next(ctx context.Context) (sighting, error) {
	for {
		select {
		case <-ctx.Done():
			return sighting{}, ctx.Err()
		case s := <-w.arrivals:
			return s.sighting, s.err
		case e, open := <-w.names.Events:
			switch {
			case !open:
				return sighting{}, fsnotify.ErrClosed
			case e.Name == w.dir && (e.Has(fsnotify.Remove) || e.Has(fsnotify.Rename)):
				return sighting{}, errDirGone
			case e.Name != w.dir && e.Has(fsnotify.Create):
				return sighting{name: filepath.Base(e.Name)}, nil
			}
			// Writes, attribute changes, names leaving: the disk says the rest.
		case err, open := <-w.names.Errors:
			if !open {
				return sighting{}, fsnotify.ErrClosed
			}
			// fsnotify keeps reading after any error, but events may be missing.
			return sighting{lost: err}, nil
		}
	}
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
