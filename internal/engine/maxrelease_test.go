package engine_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/hugeblob"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// TestMaxReleaseBytes: with max_release_bytes at 100 MiB, a tag whose tree
// holds a 2 GiB file of zeros (2.5 MB on the wire) is rejected, exit 4,
// without the memory or the disk to inflate it, over every transport.
func TestMaxReleaseBytes(t *testing.T) {
	const (
		blob    = 2 << 30
		limit   = 100 << 20
		maxRSS  = 256 << 20
		maxDisk = 150 << 20
	)
	keys := releaserepo.New(t) // a key pair: no release is signed
	for name, url := range hugeblob.Served(t, blob, "v9.0.0") {
		t.Run(name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "app")
			f := &fixture{t: t, repo: keys, root: root}
			if r := f.exec(nil, "init", root, "--repo", url, "--pub", keys.PubFile); r.Code != 0 {
				t.Fatalf("hoist init: %s", r)
			}
			setConfig(t, f, "max_release_bytes", limit)
			before := diskUse(t, root)
			var peakDisk atomic.Int64
			stop := sample(func() { peakDisk.Store(max(peakDisk.Load(), diskUse(t, root)-before)) })
			code, stderr, rss := runPeak(t, "apply", "--to", "v9.0.0", "--root", root)
			stop()
			t.Logf("exit %d, peak RSS %d MiB, disk grew by at most %d KiB, status %q", code, rss>>20, peakDisk.Load()>>10, f.status().Description)
			if code != exitcode.Rejected {
				t.Errorf("exit %d, want %d\n%s", code, exitcode.Rejected, stderr)
			}
			if st := f.status(); st.State != statusfile.Failed || !strings.Contains(st.Description, "release exceeds max_release_bytes") {
				t.Errorf("status %+v", st)
			}
			if rss >= maxRSS {
				t.Errorf("peak RSS %d MiB, want below %d MiB", rss>>20, maxRSS>>20)
			}
			if peakDisk.Load() >= maxDisk {
				t.Errorf("the root grew by %d MiB, want below %d MiB", peakDisk.Load()>>20, maxDisk>>20)
			}
		})
	}
}

// setConfig sets one field of .hoist/config.json as raw JSON.
func setConfig(t *testing.T, f *fixture, key string, value any) {
	t.Helper()
	var c map[string]any
	if err := json.Unmarshal([]byte(f.read(".hoist/config.json")), &c); err != nil {
		t.Fatal(err)
	}
	c[key] = value
	data, _ := json.Marshal(c)
	if err := os.WriteFile(f.path(".hoist/config.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// sample calls f every few milliseconds until the returned stop is called.
func sample(f func()) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			f()
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}

// diskUse is the bytes of disk the files below dir take.
func diskUse(t *testing.T, dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file removed while walking
		}
		if info, err := d.Info(); err == nil {
			n += info.Sys().(*syscall.Stat_t).Blocks * 512
		}
		return nil
	})
	return n
}
