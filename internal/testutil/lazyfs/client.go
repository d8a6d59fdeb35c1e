package lazyfs

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// FS is a mounted power-loss file system. It is served by a lazyfsd process
// of its own, so that this process may run children in the mount (see
// Serve); FS sends it commands. Its methods are safe for concurrent use.
type FS struct {
	dir string
	cmd *exec.Cmd

	mu  sync.Mutex // guards the fields below and orders the commands
	in  io.WriteCloser
	out *json.Decoder
	err error // first failure of Stats, which cannot return it
}

// Mount mounts a new, empty file system at dir, which must be an existing
// empty directory, until Unmount. The error wraps ErrUnavailable if this
// machine cannot mount FUSE file systems.
func Mount(dir string, o Options) (*FS, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("lazyfs: %w", err)
	}
	bin, err := daemonPath()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-size", strconv.FormatInt(o.Size, 10),
		"-unsynced-as-empty="+strconv.FormatBool(o.UnsyncedAsEmpty),
		"-global-commit="+strconv.FormatBool(o.GlobalCommit), dir)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("lazyfs: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("lazyfs: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("lazyfs: start %s: %w", bin, err)
	}
	f := &FS{dir: dir, cmd: cmd, in: in, out: json.NewDecoder(out)}
	var r reply
	if err := f.out.Decode(&r); err != nil || r.Error != "" {
		in.Close()
		cmd.Wait()
		switch {
		case err != nil:
			return nil, fmt.Errorf("lazyfs: mount %s: daemon: %w", dir, err)
		case r.Unavailable:
			return nil, fmt.Errorf("%w: %s", ErrUnavailable, r.Error)
		}
		return nil, errors.New(r.Error)
	}
	return f, nil
}

// call sends one command and returns the answer.
func (f *FS) call(command string) (reply, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var r reply
	if f.in == nil {
		return r, ErrNotMounted
	}
	if _, err := io.WriteString(f.in, command+"\n"); err != nil {
		return r, fmt.Errorf("lazyfs: %s: %w", command, err)
	}
	if err := f.out.Decode(&r); err != nil {
		return r, fmt.Errorf("lazyfs: %s: daemon: %w", command, err)
	}
	if r.Error != "" {
		return r, fmt.Errorf("lazyfs: %s: %s", command, r.Error)
	}
	return r, nil
}

// PowerCut drops everything that was not made durable, as if the machine
// lost power and rebooted: the mount then shows the durable state. File
// descriptors opened before fail with EIO and a working directory inside the
// mount is stale. Processes using the mount should be dead by then, as they
// would be after a real power loss.
func (f *FS) PowerCut() error {
	_, err := f.call("cut")
	return err
}

// Sync makes everything durable, as sync(1) would if the kernel passed it
// to FUSE servers: for a test to set up a starting state that a cut keeps,
// however it was made (hoist init, git, cp).
func (f *FS) Sync() error {
	_, err := f.call("sync")
	return err
}

// CrashAfter arms a crash: after the next n changes of kind st (see Step)
// have completed, every further request fails with EIO, as from a dead
// disk, until PowerCut, which then leaves what was durable at the crash.
// n = 0 crashes at once; n < 0 disarms. Run the code under test with
// n = 0, 1, 2, ... until it completes without Stats().Crashed to cut power
// at every step.
func (f *FS) CrashAfter(n int64, st Step) error {
	if st < 0 || int(st) >= len(stepNames) {
		return fmt.Errorf("lazyfs: crash after: unknown step %d", st)
	}
	_, err := f.call(fmt.Sprintf("crash %d %s", n, stepNames[st]))
	return err
}

// Stats returns the counters. On failure it returns zero counters, and
// Unmount reports the error.
func (f *FS) Stats() Stats {
	r, err := f.call("stats")
	if err != nil || r.Stats == nil {
		f.mu.Lock()
		f.err = cmp.Or(f.err, err, errors.New("lazyfs: stats: empty answer"))
		f.mu.Unlock()
		return Stats{}
	}
	return *r.Stats
}

// Dir returns the mount point.
func (f *FS) Dir() string { return f.dir }

// Unmount unmounts the file system and stops its server. A busy mount is
// detached (fusermount3 -u -z) and whoever still uses it gets errors, so a
// failed test can always clean up. Unmount again does nothing.
func (f *FS) Unmount() error {
	_, err := f.call("unmount")
	if errors.Is(err, ErrNotMounted) {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.in.Close()
	f.in = nil
	if waitErr := f.wait(); err == nil {
		err = waitErr
	}
	if err != nil {
		// The daemon died: the mount may be left, disconnected.
		exec.Command("fusermount3", "-u", "-z", f.dir).Run()
	}
	return errors.Join(f.err, err)
}

// wait reaps the daemon, killing it if it does not exit soon.
func (f *FS) wait() error {
	t := time.AfterFunc(5*time.Second, func() { f.cmd.Process.Kill() })
	defer t.Stop()
	if err := f.cmd.Wait(); err != nil {
		return fmt.Errorf("lazyfs: daemon: %w", err)
	}
	return nil
}

// daemon is the lazyfsd binary, built once per process.
var daemon struct {
	sync.Mutex // guards path
	path       string
}

func daemonPath() (string, error) {
	daemon.Lock()
	defer daemon.Unlock()
	if daemon.path != "" {
		return daemon.path, nil
	}
	dir, err := os.MkdirTemp("", "lazyfsd-")
	if err != nil {
		return "", fmt.Errorf("lazyfs: build daemon: %w", err)
	}
	p := filepath.Join(dir, "lazyfsd")
	// By import path, from this source's directory if the binary knows it
	// (not with -trimpath), else from the working directory: a test's is
	// its package's, inside the module.
	cmd := exec.Command("go", "build", "-o", p, reflect.TypeFor[FS]().PkgPath()+"/lazyfsd")
	if _, src, _, ok := runtime.Caller(0); ok && filepath.IsAbs(src) {
		cmd.Dir = filepath.Dir(src)
	}
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("lazyfs: build daemon: %w\n%s", err, out)
	}
	daemon.path = p
	return p, nil
}
