package supervisor

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hoist-dev/hoist/internal/safefs"
)

// inotify watches one directory through inotify(7) itself, for what
// fsnotify does not offer: IN_CLOSE_WRITE (fsnotify issue #764), and
// IN_MOVED_TO told apart from IN_CREATE. One instance reports its events in
// the order they happened.
type inotify struct {
	f       *os.File // the instance, non-blocking: reads wait in Go's poller
	buf     []byte
	pending []byte // events read but not yet returned
}

// inotifyBuf holds many events of the longest name at once.
const inotifyBuf = 64 << 10

// watchInotify watches dir for mask's events. dir must be a real
// directory: a symlink is not followed.
func watchInotify(dir string, mask uint32) (*inotify, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	in := &inotify{f: os.NewFile(uintptr(fd), "inotify"), buf: make([]byte, inotifyBuf)}
	err = safefs.Control(in.f, func(fd int) error {
		_, err := unix.InotifyAddWatch(fd, dir, mask|unix.IN_ONLYDIR|unix.IN_DONT_FOLLOW)
		return err
	})
	if err != nil {
		in.close()
		return nil, fmt.Errorf("watch %s: %w", dir, err)
	}
	return in, nil
}

func (in *inotify) close() error { return in.f.Close() }

// next returns the next event's mask and name (empty for the directory
// itself). It blocks until there is one or ctx is done, and fails with
// os.ErrClosed once in is closed.
func (in *inotify) next(ctx context.Context) (uint32, string, error) {
	for len(in.pending) < unix.SizeofInotifyEvent {
		// A read deadline in the past ends a blocked read when ctx is done.
		fired := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			in.f.SetReadDeadline(time.Unix(1, 0))
			close(fired)
		})
		n, err := in.f.Read(in.buf)
		in.pending = in.buf[:n] // kept for the next call if ctx is done
		if !stop() {
			<-fired
			in.f.SetReadDeadline(time.Time{})
			return 0, "", ctx.Err()
		}
		if err != nil {
			return 0, "", fmt.Errorf("read inotify events: %w", err)
		}
	}
	// struct inotify_event: wd int32, mask, cookie, len uint32, then len
	// bytes of name padded with NULs. The kernel writes whole events only.
	mask := binary.NativeEndian.Uint32(in.pending[4:])
	size := unix.SizeofInotifyEvent + int(binary.NativeEndian.Uint32(in.pending[12:]))
	name := string(bytes.TrimRight(in.pending[unix.SizeofInotifyEvent:size], "\x00"))
	in.pending = in.pending[size:]
	return mask, name, nil
}
