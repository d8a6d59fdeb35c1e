package raspi

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
	"github.com/hoist-dev/hoist/internal/testutil/testbin"
)

// TestUpdateWrites measures what hoist writes, which on a Pi wears its SD
// card, for a fresh install, an update changing a few files and a
// rollback: the bytes hoist passed to write(2) (/proc/PID/io wchar) and
// those the kernel counted towards storage (write_bytes: file data, not
// metadata or the file system's journal). The figures are those of
// README's "Raspberry Pi" section; the architecture does not change them.
func TestUpdateWrites(t *testing.T) {
	const files, size, changed = 200, 4 << 10, 10
	const release = files * size
	v1 := map[string]releaserepo.File{}
	for i := range files {
		v1[fmt.Sprintf("app/%03d.bin", i)] = releaserepo.File{Content: random(size)}
	}
	v2 := maps.Clone(v1)
	for i := range changed {
		v2[fmt.Sprintf("app/%03d.bin", i)] = releaserepo.File{Content: random(size)}
	}
	repo := releaserepo.New(t,
		releaserepo.Release{Version: "1.0.0", Files: v1},
		releaserepo.Release{Version: "1.1.0", Files: v2})
	url := repo.ServeHTTP(t)
	root := filepath.Join(t.TempDir(), "app")
	hoist := testbin.Path(t, "hoist")
	written(t, hoist, "init", root, "--repo", url, "--pub", repo.PubFile)

	install := written(t, hoist, "apply", "--root", root, "--to", "v1.0.0")
	update := written(t, hoist, "apply", "--root", root, "--to", "v1.1.0")
	rollback := written(t, hoist, "rollback", "--root", root)
	t.Logf("release of %d files, %d KiB; %d files change", files, release>>10, changed)
	for _, s := range []struct {
		step string
		io   ioCount
	}{{"install", install}, {"update", update}, {"rollback", rollback}} {
		t.Logf("%-8s write(2) %5d KiB, storage %5d KiB", s.step, s.io.wchar>>10, s.io.storage>>10)
	}
	// An update downloads what changed but checks the whole release out
	// before installing it: about one release written. A rollback puts
	// back the changed files from the backup.
	if update.wchar > 2*release {
		t.Errorf("an update passed %d bytes to write(2), more than twice the release's %d", update.wchar, release)
	}
	if rollback.wchar > release/4 {
		t.Errorf("a rollback of %d files passed %d bytes to write(2), more than a quarter of the release's %d",
			changed, rollback.wchar, release)
	}
}

// ioCount is what a process wrote: wchar, the bytes it passed to write(2)
// and its kind, and storage, the bytes the kernel counted towards storage.
type ioCount struct{ wchar, storage int64 }

// written runs hoist to its end and returns what it wrote, read from its
// /proc/PID/io while it is a zombie, before it is reaped.
func written(t *testing.T, hoist string, args ...string) ioCount {
	t.Helper()
	cmd := exec.Command(hoist, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
		t.Fatal(err)
	}
	io, ioErr := readIO(cmd.Process.Pid)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("hoist %s: %v\n%s", args[0], err, out.String())
	}
	if ioErr != nil {
		t.Fatal(ioErr)
	}
	return io
}

// readIO reads the wchar and write_bytes of /proc/PID/io.
func readIO(pid int) (ioCount, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return ioCount{}, err
	}
	defer f.Close()
	var c ioCount
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, _ := strings.Cut(sc.Text(), ": ")
		n, err := strconv.ParseInt(value, 10, 64)
		switch {
		case key != "wchar" && key != "write_bytes":
		case err != nil:
			return ioCount{}, fmt.Errorf("/proc/%d/io: %s: %w", pid, key, err)
		case key == "wchar":
			c.wchar = n
		default:
			c.storage = n
		}
	}
	return c, sc.Err()
}

// random returns n incompressible bytes, as most of a real release is.
func random(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	return string(b)
}
