package supervisor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestInotifyRefusesSymlink: the watch is set by path; a symlink in its
// place is not followed.
func TestInotifyRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	if in, err := watchInotify(link, arrivalEvents); err == nil {
		in.close()
		t.Fatal("watched a directory through a symlink")
	}
}

// TestInotifyCancel: a read waiting for events ends when its context does,
// the next read with a live context still gets events, and a closed watch
// fails with os.ErrClosed.
func TestInotifyCancel(t *testing.T) {
	dir := t.TempDir()
	in, err := watchInotify(dir, unix.IN_CREATE|unix.IN_CLOSE_WRITE)
	if err != nil {
		t.Fatal(err)
	}
	defer in.close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := in.next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("next on an idle directory: %v, want the context's deadline", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "s"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	mask, name, err := in.next(ctx)
	if err != nil || mask&unix.IN_CREATE == 0 || name != "s" {
		t.Fatalf("after a create: mask %#x name %q, %v", mask, name, err)
	}
	// Once closed, the events already read (the close-write) are the last.
	in.close()
	for range 3 {
		if _, _, err = in.next(ctx); err != nil {
			break
		}
	}
	if !errors.Is(err, os.ErrClosed) {
		t.Errorf("next after close: %v, want os.ErrClosed", err)
	}
}
