package proc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hoist-dev/hoist/internal/testutil/testbin"
)

// scriptBody sources a helper next to its directory, as release scripts
// do, and records its arguments.
const scriptBody = "#!/bin/sh\nset -e\n. \"$(dirname \"$0\")/../lib.sh\"\necho \"ran $1 $2 $lib\"\n"

// tree lays out a release tree with scripts/update/01-run.sh and
// scripts/lib.sh, and returns it with the script's sha256.
func tree(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "scripts/update"), 0o755); err != nil {
		t.Fatal(err)
	}
	testbin.WriteExecutable(t, filepath.Join(dir, "scripts/update/01-run.sh"), []byte(scriptBody))
	if err := os.WriteFile(filepath.Join(dir, "scripts/lib.sh"), []byte("lib=loaded\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(scriptBody))
	return dir, hex.EncodeToString(sum[:])
}

func openIn(t *testing.T, dir, rel, sum string) (*Script, error) {
	t.Helper()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	return Open(root, rel, sum)
}

// TestOpenRunsTheCheckedScript runs a script through its checked
// directory: arguments arrive, and "$(dirname "$0")" still leads to the
// release's other files.
func TestOpenRunsTheCheckedScript(t *testing.T) {
	dir, sum := tree(t)
	s, err := openIn(t, dir, "scripts/update/01-run.sh", sum)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var log bytes.Buffer
	logger := logrus.New()
	logger.SetOutput(io.Discard)
	err = Run(context.Background(), Spec{Name: "01-run.sh", Script: s, Args: []string{"v1.1.0", dir}, Dir: dir,
		Timeout: 10 * time.Second, Log: &log, Logger: logger})
	if err != nil {
		t.Fatalf("Run: %v; output %q", err, log.String())
	}
	if want := "ran v1.1.0 " + dir + " loaded\n"; log.String() != want {
		t.Errorf("output %q, want %q", log.String(), want)
	}
}

// TestOpenRefuses: a script is refused, without blocking and without
// reading through a link, when anything on its path is not what the
// verified release put there.
func TestOpenRefuses(t *testing.T) {
	tests := []struct {
		name   string
		rel    string // default scripts/update/01-run.sh
		change func(t *testing.T, dir string)
		want   string
	}{
		{name: "script is a symlink", change: func(t *testing.T, dir string) {
			// A copy with the same content, reached through a link.
			os.Rename(filepath.Join(dir, "scripts/update/01-run.sh"), filepath.Join(dir, "copy.sh"))
			os.Symlink("../../copy.sh", filepath.Join(dir, "scripts/update/01-run.sh"))
		}, want: "scripts/update/01-run.sh is a symlink"},
		{name: "directory is a symlink", change: func(t *testing.T, dir string) {
			os.Rename(filepath.Join(dir, "scripts/update"), filepath.Join(dir, "statuses"))
			os.Symlink("../statuses", filepath.Join(dir, "scripts/update"))
		}, want: "scripts/update is a symlink"},
		{name: "top directory is a symlink", change: func(t *testing.T, dir string) {
			os.Rename(filepath.Join(dir, "scripts"), filepath.Join(dir, "statuses"))
			os.Symlink("statuses", filepath.Join(dir, "scripts"))
		}, want: "scripts is a symlink"},
		{name: "content changed", change: func(t *testing.T, dir string) {
			testbin.WriteExecutable(t, filepath.Join(dir, "scripts/update/01-run.sh"), []byte("#!/bin/sh\nid\n"))
		}, want: "content differs from the verified release"},
		{name: "fifo", change: func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "scripts/update/01-run.sh"))
			if err := syscall.Mkfifo(filepath.Join(dir, "scripts/update/01-run.sh"), 0o755); err != nil {
				t.Skip(err)
			}
		}, want: "not a regular file"},
		{name: "directory writable by others", change: func(t *testing.T, dir string) {
			os.Chmod(filepath.Join(dir, "scripts/update"), 0o777)
		}, want: "scripts/update is writable by group or others"},
		{name: "script writable by group", change: func(t *testing.T, dir string) {
			os.Chmod(filepath.Join(dir, "scripts/update/01-run.sh"), 0o775)
		}, want: "writable by group or others"},
		{name: "file where a directory was", change: func(t *testing.T, dir string) {
			os.RemoveAll(filepath.Join(dir, "scripts/update"))
			os.WriteFile(filepath.Join(dir, "scripts/update"), nil, 0o644)
		}, want: "scripts/update is not a directory"},
		{name: "missing", change: func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "scripts/update/01-run.sh"))
		}, want: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, sum := tree(t)
			tt.change(t, dir)
			s, err := openIn(t, dir, "scripts/update/01-run.sh", sum)
			if err == nil {
				s.Close()
				t.Fatal("Open accepted it")
			}
			var se *Error
			if !errors.As(err, &se) || se.Name != "01-run.sh" || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want an *Error for 01-run.sh saying %q", err, tt.want)
			}
		})
	}
}
