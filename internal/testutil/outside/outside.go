// Package outside is the sentinel of the tests that plant hostile names in
// an app root: a directory next to the root holding what those names point
// at. Nothing in it may be read or written by hoist; Check proves it by
// content, metadata and inotify.
package outside

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hoist-dev/hoist/internal/testutil/treesnap"
)

// Dir is a directory outside an app root holding what hostile names in the
// root point at: root-owned files (one a status asking for an update, so
// that following a link to it would install something), and a directory
// of signal files.
type Dir struct {
	dir    string
	before treesnap.Tree
	stat   map[string]string // mtime and inode of every entry
	watch  *inotify
}

// The entries of a Dir.
const (
	Secret  = "secret.json" // a status file asking for v1.1.0
	Target  = "target"      // a file that hard links are made to
	Signals = "signals"     // a directory of valid signals
	Pwned   = "pwned"       // must never exist: shell injection proof
	dirMode = 0o700
)

// New makes a Dir for the test. Plant links to it, then Seal it.
func New(t *testing.T) *Dir {
	t.Helper()
	o := &Dir{dir: filepath.Join(t.TempDir(), "outside")}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(o.dir, Signals), dirMode))
	must(os.WriteFile(o.Path(Secret), []byte(`{"state":"installing","progress":0,"description":"Queued","updateTo":"v1.1.0"}`), 0o600))
	must(os.WriteFile(o.Path(Target), []byte("root's own\n"), 0o600))
	for _, sig := range []string{"update", "ping", "rollback"} {
		must(os.WriteFile(o.Path(Signals+"/"+sig), nil, 0o644))
	}
	return o
}

// Path returns the path of rel in o ("" for o itself).
func (o *Dir) Path(rel string) string { return filepath.Join(o.dir, rel) }

// Seal records the directory's state and starts watching it: call it
// after planting links to it (which change link counts).
func (o *Dir) Seal(t *testing.T) {
	t.Helper()
	o.before = treesnap.Take(t, o.dir)
	o.stat = statAll(t, o.dir)
	o.watch = watchInotify(t, o.dir, o.Path(Signals))
}

// statAll maps every entry below dir (and dir) to its inode, size and
// mtime: what changes when something writes it, even with equal content.
func statAll(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		out[p] = fmt.Sprintf("ino %d size %d mtime %d", st.Ino, st.Size, fi.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Check fails the test if anything in the directory was opened, read,
// written, created, removed or changed since Seal, or if the shell
// injection proof exists.
func (o *Dir) Check(t *testing.T) {
	t.Helper()
	if events := o.watch.events(); len(events) > 0 {
		t.Errorf("outside the root, something touched: %q", events)
	}
	if _, err := os.Lstat(o.Path(Pwned)); err == nil {
		t.Errorf("%s exists: a hostile value reached a shell", o.Path(Pwned))
	}
	treesnap.Same(t, "the directory outside the root", treesnap.Take(t, o.dir), o.before)
	after := statAll(t, o.dir)
	for p, st := range o.stat {
		if after[p] != st {
			t.Errorf("outside the root, %s changed: %s, was %s", p, after[p], st)
		}
	}
	o.watch.events() // the snapshot's own reads
}

// inotify records every open, read, write, creation, removal and rename in
// some directories and the files in them. Link count changes (IN_ATTRIB)
// are left out: removing a hard link planted in the root changes the
// count of the file outside, without touching it.
type inotify struct {
	f     *os.File
	names map[int32]string // watch descriptor → directory
	done  chan struct{}

	mu   sync.Mutex // guards seen
	seen []string
}

const inotifyMask = unix.IN_OPEN | unix.IN_ACCESS | unix.IN_MODIFY | unix.IN_CLOSE_WRITE |
	unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF

func watchInotify(t *testing.T, dirs ...string) *inotify {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	w := &inotify{f: os.NewFile(uintptr(fd), "inotify"), names: map[int32]string{}, done: make(chan struct{})}
	for _, d := range dirs {
		wd, err := unix.InotifyAddWatch(fd, d, inotifyMask)
		if err != nil {
			t.Fatal(err)
		}
		w.names[int32(wd)] = d
	}
	go w.read()
	t.Cleanup(func() { w.f.Close(); <-w.done })
	return w
}

func (w *inotify) read() {
	defer close(w.done)
	buf := make([]byte, 64<<10)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			wd := int32(binary.NativeEndian.Uint32(buf[off:]))
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			size := int(binary.NativeEndian.Uint32(buf[off+12:]))
			name := string(bytes.TrimRight(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+size], "\x00"))
			off += unix.SizeofInotifyEvent + size
			if mask&unix.IN_IGNORED != 0 {
				continue
			}
			w.mu.Lock()
			w.seen = append(w.seen, fmt.Sprintf("%s/%s mask %#x", w.names[wd], name, mask))
			w.mu.Unlock()
		}
	}
}

// events returns what was seen since the last call, after a moment for
// late events.
func (w *inotify) events() []string {
	time.Sleep(50 * time.Millisecond)
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := w.seen
	w.seen = nil
	return seen
}
