// Package lock is an exclusive, crash-safe lock on a file (flock(2)).
//
// The kernel drops an flock when its holder dies, so a lock left by a killed
// process or an earlier boot is simply taken over: no update is ever stuck
// behind a stale lock file. The holder's pid and boot id are recorded in the
// file for diagnostics and reported to whoever finds the lock held.
package lock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/gofrs/flock"

	"github.com/hoist-dev/hoist/internal/exitcode"
)

// Owner is what a lock file records about its holder.
type Owner struct {
	PID    int    `json:"pid"`
	BootID string `json:"boot_id"`
}

// Lock is a held lock.
type Lock struct {
	fl *flock.Flock
	// Previous is the owner recorded by an earlier holder that died or whose
	// boot ended without releasing; zero when the lock was free and clean.
	Previous Owner
}

// Acquire takes the lock at path without waiting. When another live process
// holds it, the error wraps exitcode.ErrLocked and names that process.
func Acquire(path string) (*Lock, error) {
	fl := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o600))
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	prev := readOwner(path)
	if !ok && !prev.alive() {
		// The recorded holder is gone, but a child it was starting when it
		// died holds the lock's descriptor until its exec closes it.
		ctx, cancel := context.WithTimeout(context.Background(), orphanGrace)
		ok, err = fl.TryLockContext(ctx, orphanGrace/50)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
	}
	if !ok {
		return nil, fmt.Errorf("%w (lock %s held by pid %d)", exitcode.ErrLocked, path, prev.PID)
	}
	self := Owner{PID: os.Getpid(), BootID: BootID()}
	if err := writeOwner(path, self); err != nil {
		fl.Unlock()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &Lock{fl: fl, Previous: prev}, nil
}

// orphanGrace is how long Acquire waits for a lock whose recorded holder
// has died: far longer than a fork-to-exec window, far shorter than anyone
// waiting for an answer notices.
const orphanGrace = 500 * time.Millisecond

// alive reports whether o may still hold the lock: a process of this boot
// that exists. A record without a pid (torn, or the holder had not written
// it yet) counts as alive.
func (o Owner) alive() bool {
	if o.PID <= 0 {
		return true
	}
	if o.BootID != BootID() {
		return false
	}
	return !errors.Is(syscall.Kill(o.PID, 0), syscall.ESRCH)
}

// Release clears the owner record and drops the lock.
func (l *Lock) Release() error {
	if err := os.Truncate(l.fl.Path(), 0); err != nil {
		l.fl.Unlock()
		return fmt.Errorf("release lock: %w", err)
	}
	return l.fl.Unlock()
}

func readOwner(path string) Owner {
	var o Owner
	data, err := os.ReadFile(path)
	if err == nil && len(data) < 4096 {
		_ = json.Unmarshal(data, &o) // a torn or empty record just means no previous owner
	}
	return o
}

// writeOwner rewrites the record in place: the flock belongs to the inode, so
// the file must not be replaced. It is not fsynced: Acquire decides by the
// record only while a process of this boot holds the flock, when the page
// cache has it; a crash of the machine drops every flock, and after one the
// record (lost or not) only names who held the lock, for the log.
func writeOwner(path string, o Owner) error {
	data, _ := json.Marshal(o)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return errors.Join(err, f.Close())
}

// BootID identifies the current boot; empty where the kernel does not say.
func BootID() string {
	data, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}
