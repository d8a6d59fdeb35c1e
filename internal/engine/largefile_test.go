package engine_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/config"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
	"github.com/hoist-dev/hoist/internal/testutil/testbin"
)

// TestApplyOfALargeFileOverHTTPStreams: a release holding a 300 MiB file
// installs over http:// with far less memory than the file: nothing holds
// a whole blob in memory (issue 12), neither the pack's indexing nor the
// checkout.
func TestApplyOfALargeFileOverHTTPStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a release with a 300 MiB file")
	}
	const size, maxRSS = 300 << 20, 128 << 20
	block := make([]byte, 4<<10)
	rand.Read(block)
	f := newFixture(t, releaserepo.Release{Version: "1.0.0", Files: map[string]releaserepo.File{
		"app/big.bin": {Content: strings.Repeat(string(block), size/len(block))},
	}})
	url := f.repo.ServeHTTP(t)
	f.editConfig(func(c *config.Config) { c.Repo = url })

	code, stderr, peak := runPeak(t, "apply", "--to", "v1.0.0", "--root", f.root)
	t.Logf("exit %d, peak RSS %d MiB", code, peak>>20)
	if code != 0 {
		t.Fatalf("hoist apply: exit %d\n%s", code, stderr)
	}
	if info, err := os.Stat(f.path("app/big.bin")); err != nil || info.Size() != size {
		t.Fatalf("app/big.bin: %v, %v", info, err)
	}
	if peak >= maxRSS {
		t.Errorf("peak RSS %d MiB, want below %d MiB", peak>>20, maxRSS>>20)
	}
}

// runPeak runs the hoist binary and returns its exit code, stderr and peak
// resident memory, read from /proc/PID/status (VmHWM) every few
// milliseconds while it runs: unlike rusage, it counts only the child's own
// memory, not what its parent had when it forked.
func runPeak(t *testing.T, args ...string) (int, string, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testbin.ProcessTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, testbin.Path(t, "hoist"), args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var peak int64
	stop := sample(func() { peak = max(peak, vmHWM(cmd.Process.Pid)) })
	err := cmd.Wait()
	stop()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stderr.String(), peak
}

// vmHWM is the peak resident memory of process pid, in bytes; 0 once it
// has exited.
func vmHWM(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kib int64
		if _, err := fmt.Sscanf(sc.Text(), "VmHWM: %d kB", &kib); err == nil {
			return kib << 10
		}
	}
	return 0
}
