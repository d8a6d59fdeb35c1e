package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hoist-dev/hoist/internal/testutil/testbin"
)

// readOnlyExceptTmp is run by unshare in a private mount namespace: it makes
// every mount read-only except /tmp (standing in for the unit's PrivateTmp,
// and holding the test's app root) and the kernel's API file systems, as
// ProtectSystem=strict does, then runs its arguments.
const readOnlyExceptTmp = `
set -e
mount --bind /tmp /tmp
for m in $(awk '{print $5}' /proc/self/mountinfo | sort -u); do
	case $m in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*|/tmp|/tmp/*) continue ;; esac
	mount -o remount,bind,ro "$m" 2>/dev/null || true
done
if touch /etc/.hoist-sandbox-probe 2>/dev/null; then
	echo "sandbox emulation failed: /etc is writable" >&2
	exit 99
fi
exec "$@"
`

// TestEngineInUnitSandbox runs the engine as the supervisor unit would have
// it run: everything read-only but the app root and a private /tmp, no
// home. Install, update, rollback and verify must all work, so the unit's
// ProtectSystem=strict, ReadWritePaths= and ProtectHome= take nothing the
// engine needs. (Seccomp and capability limits are not emulated.)
func TestEngineInUnitSandbox(t *testing.T) {
	unshare := lookPathOrSkip(t, "unshare")
	if os.Geteuid() != 0 {
		t.Skip("a private mount namespace needs root")
	}
	hoist := testbin.Path(t, "hoist")
	rel := newReleaseRepo(t, hoist)
	demo := filepath.Join(repoRoot(t), "deploy", "demo")
	for _, v := range []string{"v1.0.0", "v1.1.0"} {
		rel.publish(t, v, filepath.Join(demo, "release"), filepath.Join(demo, v))
	}
	root := filepath.Join(t.TempDir(), "app")
	run(t, nil, hoist, "init", root, "--repo", "file://"+rel.dir, "--pub", rel.pub)

	for _, args := range [][]string{
		{"apply", "--to", "v1.0.0"},
		{"apply", "--to", "v1.1.0"},
		{"rollback"},
		{"verify"},
	} {
		argv := append([]string{"-m", "--propagation", "private", "sh", "-c", readOnlyExceptTmp, "sandbox", hoist}, args...)
		cmd := exec.Command(unshare, append(argv, "--root", root)...)
		cmd.Env = append(os.Environ(), "HOME=/nonexistent", "DEMO_STEP_PAUSE=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			if exit, ok := err.(*exec.ExitError); ok && exit.ExitCode() == 99 {
				t.Skipf("cannot emulate the sandbox here: %s", out)
			}
			t.Fatalf("hoist %v in the sandbox: %v\n%s", args, err, lastLines(out, 15))
		}
	}
	if got := readText(t, filepath.Join(root, "info.json")); !regexpVersion("1.0.0").MatchString(got) {
		t.Errorf("after the rollback info.json is %s, want version 1.0.0", got)
	}
}
