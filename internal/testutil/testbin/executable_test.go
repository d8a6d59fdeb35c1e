package testbin

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// TestWriteExecutableWhileForking writes and runs scripts while other
// goroutines keep forking, as parallel tests do; without the fork lock
// some runs fail with "text file busy".
func TestWriteExecutableWhileForking(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	var forkers sync.WaitGroup
	for range 4 {
		forkers.Go(func() {
			for ctx.Err() == nil {
				exec.Command("true").Run()
			}
		})
	}
	defer forkers.Wait()
	defer stop()
	dir := t.TempDir()
	for i := range 300 {
		p := filepath.Join(dir, fmt.Sprintf("s%d", i))
		WriteExecutable(t, p, []byte("#!/bin/sh\nexit 0\n"))
		if err := exec.Command(p).Run(); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
}
