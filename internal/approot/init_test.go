package approot

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"testing/fstest"
)

// TestInitModesIgnoreTheUmask: a permissive umask must not leave
// triggers/ writable by the group, which would make the supervisor refuse
// every trigger; a strict one must not hide the triggers from it.
func TestInitModesIgnoreTheUmask(t *testing.T) {
	templates := fstest.MapFS{
		"triggers/update":         {Data: []byte("#!/bin/sh\n"), Mode: 0o755},
		"events/signals/.gitkeep": {},
		"statuses/.gitkeep":       {},
	}
	want := map[string]os.FileMode{
		TriggersDir:             0o755,
		TriggersDir + "/update": 0o755,
		"events":                0o755,
		SignalsDir:              0o770,
		StatusesDir:             0o770,
		StateDir:                0o700,
	}
	for _, umask := range []int{0o002, 0o077} {
		old := syscall.Umask(umask)
		dir := filepath.Join(t.TempDir(), "app")
		root, err := Init(dir, InitOptions{Templates: templates, ManagerUID: os.Getuid(), ManagerGID: os.Getgid()})
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		root.Close()
		for p, mode := range want {
			fi, err := os.Lstat(filepath.Join(dir, p))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != mode {
				t.Errorf("umask %03o: %s has mode %v, want %v", umask, p, fi.Mode().Perm(), mode)
			}
		}
	}
}
