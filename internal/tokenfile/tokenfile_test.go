package tokenfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content string
		mode          os.FileMode
		want, errHas  string // want for Read; errHas for ReadPrivate, "" when it succeeds
	}{
		{name: "private", content: " ghp_abc\n", mode: 0o600, want: "ghp_abc"},
		{name: "readonly", content: "t", mode: 0o400, want: "t"},
		{name: "shared", content: "t", mode: 0o644, want: "t", errHas: "mode 0644 lets others read"},
		{name: "empty", content: "\n", mode: 0o600, errHas: "empty"},
		{name: "huge", content: strings.Repeat("x", MaxSize+1), mode: 0o600, errHas: "over 4096 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, []byte(tc.content), tc.mode); err != nil {
				t.Fatal(err)
			}
			if got, err := Read(p); tc.want != "" && (err != nil || got != tc.want) {
				t.Errorf("Read = %q, %v; want %q", got, err, tc.want)
			}
			got, err := ReadPrivate(p)
			switch {
			case tc.errHas == "" && (err != nil || got != tc.want):
				t.Errorf("ReadPrivate = %q, %v; want %q", got, err, tc.want)
			case tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
				t.Errorf("ReadPrivate = %q, %v; want an error with %q", got, err, tc.errHas)
			}
		})
	}
	if _, err := Read(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(fifo); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("fifo: %v", err) // and above all, no hang
	}
}
