// The daemon and the server need go-fuse, whose splice package does not
// compile for 32-bit arm (see serve_arm.go).

//go:build !arm

package lazyfs

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// Serve mounts a file system at dir, serves it from this process and obeys
// the commands read from in, one a line, answering each with a JSON line on
// out (the first answer says whether the mount worked):
//
//	cut               PowerCut
//	sync              Sync
//	crash N any|sync  CrashAfter(N, AnyChange|Sync)
//	stats             Stats
//	unmount           unmount and return
//
// The end of in or of ctx also unmounts. The process serving the mount must
// not access it: a fork in that process that touches the mount (a child's
// chdir into it) stalls the runtime that has to answer, which is why lazyfs
// runs Serve in a process of its own (lazyfsd).
func Serve(ctx context.Context, dir string, o Options, in io.Reader, out io.Writer) error {
	enc := json.NewEncoder(out)
	m, err := newMounted(dir, o)
	if err != nil {
		enc.Encode(reply{Error: err.Error(), Unavailable: errors.Is(err, ErrUnavailable)})
		return err
	}
	if err := enc.Encode(reply{}); err != nil {
		return errors.Join(err, m.unmount())
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return m.unmount()
		case line, ok := <-lines:
			if !ok || line == "unmount" {
				err := m.unmount()
				enc.Encode(errorReply(err))
				return err
			}
			if err := enc.Encode(m.command(line)); err != nil {
				return errors.Join(err, m.unmount())
			}
		}
	}
}

func errorReply(err error) reply {
	if err != nil {
		return reply{Error: err.Error()}
	}
	return reply{}
}

// command runs one command line other than unmount.
func (m *mounted) command(line string) reply {
	f := strings.Fields(line)
	switch {
	case len(f) == 1 && f[0] == "cut":
		m.powerCut()
		return reply{}
	case len(f) == 1 && f[0] == "sync":
		return errorReply(m.server.syncAll())
	case len(f) == 1 && f[0] == "stats":
		st := m.server.snapshot()
		return reply{Stats: &st}
	case len(f) == 3 && f[0] == "crash":
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return reply{Error: fmt.Sprintf("crash: count %q: %v", f[1], err)}
		}
		st := slices.Index(stepNames, f[2])
		if st < 0 {
			return reply{Error: fmt.Sprintf("crash: step %q is not one of %v", f[2], stepNames)}
		}
		m.server.crashAfter(n, Step(st))
		return reply{}
	}
	return reply{Error: fmt.Sprintf("unknown command %q", line)}
}

// mounted is a file system served by this process.
type mounted struct {
	dir    string
	srv    *fuse.Server
	server *server
}

func newMounted(dir string, o Options) (*mounted, error) {
	if o.Size < 0 {
		return nil, fmt.Errorf("lazyfs: negative size %d", o.Size)
	}
	if o.Size == 0 {
		o.Size = DefaultSize
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("lazyfs: mount point: %w", err)
	}
	if len(entries) > 0 {
		return nil, fmt.Errorf("lazyfs: mount point %s is not empty", dir)
	}
	dev, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	dev.Close()

	s := newServer(o)
	root := os.Geteuid() == 0
	srv, err := fuse.NewServer(s, dir, &fuse.MountOptions{
		FsName: "lazyfs",
		Name:   "lazyfs",
		// Root may share the mount with the unprivileged users that the
		// code under test switches to; the kernel then checks modes.
		AllowOther:         root,
		DirectMount:        root,
		Options:            []string{"default_permissions"},
		DisableReadDirPlus: true,
		DisableXAttrs:      true,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: mount %s: %w", ErrUnavailable, dir, err)
	}
	go srv.Serve()
	if err := srv.WaitMount(); err != nil {
		srv.Unmount()
		return nil, fmt.Errorf("lazyfs: mount %s: %w", dir, err)
	}
	return &mounted{dir: dir, srv: srv, server: s}, nil
}

func (m *mounted) powerCut() {
	for _, id := range m.server.powerCut() {
		// Drop the kernel's page cache and attributes of the old inodes,
		// so that even a descriptor kept open reads nothing stale. An
		// inode the kernel forgot meanwhile answers ENOENT: harmless.
		m.srv.InodeNotify(id, 0, 0)
	}
}

// unmount unmounts, lazily if the mount is busy. The caller then exits,
// which aborts the connection: whoever still uses the detached mount gets
// ENOTCONN instead of hanging.
func (m *mounted) unmount() error {
	err := m.srv.Unmount()
	if err == nil {
		return nil
	}
	if out, lazyErr := exec.Command("fusermount3", "-u", "-z", m.dir).CombinedOutput(); lazyErr != nil {
		return fmt.Errorf("lazyfs: unmount %s: %w; lazy unmount: %v: %s", m.dir, err, lazyErr, out)
	}
	return nil
}
