package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/testutil/testbin"
)

// maxExposure is the highest `systemd-analyze security` exposure accepted for
// the supervisor unit, in tenths (0 = fully sandboxed, 100 = not at all): 3.0.
const maxExposure = "30"

func TestSystemdUnitsVerify(t *testing.T) {
	analyze := lookPathOrSkip(t, "systemd-analyze")
	units := deployUnits(t)
	bin := filepath.Dir(testbin.Path(t, "hoist-supervisor"))
	for _, unit := range units {
		t.Run(filepath.Base(unit), func(t *testing.T) {
			path := installableCopy(t, unit, bin)
			if problems := verifyUnit(t, analyze, path); problems != "" {
				t.Errorf("systemd-analyze verify %s:\n%s", filepath.Base(unit), problems)
			}
		})
	}
}

// TestVerifyUnitCatchesMistakes proves the check above can fail.
func TestVerifyUnitCatchesMistakes(t *testing.T) {
	analyze := lookPathOrSkip(t, "systemd-analyze")
	tests := []struct{ name, unit string }{
		{"unknown directive", "[Service]\nType=notify\nExecStart=/bin/true\nProtectSytem=strict\n"},
		{"missing binary", "[Service]\nType=notify\nExecStart=/nonexistent/hoist-supervisor\n"},
		{"bad value", "[Service]\nType=notifyy\nExecStart=/bin/true\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "broken.service")
			if err := os.WriteFile(path, []byte(tt.unit), 0o644); err != nil {
				t.Fatal(err)
			}
			if verifyUnit(t, analyze, path) == "" {
				t.Error("verifyUnit found nothing wrong")
			}
		})
	}
}

func TestSupervisorUnitSandbox(t *testing.T) {
	unit := filepath.Join(repoRoot(t), "deploy", "hoist-supervisor.service")
	settings := unitSettings(t, unit)
	for key, want := range map[string]string{
		"Type":            "notify",
		"ProtectSystem":   "strict",
		"ProtectHome":     "yes",
		"PrivateTmp":      "yes",
		"NoNewPrivileges": "yes",
		"KillMode":        "mixed",
	} {
		if got := settings[key]; got != want {
			t.Errorf("%s=%q, want %q", key, got, want)
		}
	}
	// The root the supervisor is given must be the one path it may write.
	argv := strings.Fields(settings["ExecStart"])
	root := ""
	for i, arg := range argv {
		if arg == "--root" && i+1 < len(argv) {
			root = argv[i+1]
		}
	}
	if root == "" || settings["ReadWritePaths"] != root {
		t.Errorf("ExecStart root %q, ReadWritePaths %q: they must be the same path", root, settings["ReadWritePaths"])
	}

	analyze := lookPathOrSkip(t, "systemd-analyze")
	path := installableCopy(t, unit, filepath.Dir(testbin.Path(t, "hoist-supervisor")))
	out, err := exec.Command(analyze, "security", "--offline=yes", "--threshold="+maxExposure, path).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "unrecognized option") {
			t.Skipf("this systemd-analyze has no offline security check: %s", firstLine(out))
		}
		t.Errorf("systemd-analyze security: exposure above %s/10 or error: %v\n%s", maxExposure, err, lastLines(out, 3))
	}
}

// TestSupervisorUnitFlags runs the unit's ExecStart command line with
// --help added: a misspelt flag or bad value would stop the service at boot.
func TestSupervisorUnitFlags(t *testing.T) {
	settings := unitSettings(t, filepath.Join(repoRoot(t), "deploy", "hoist-supervisor.service"))
	argv := strings.Fields(settings["ExecStart"])
	if len(argv) == 0 || filepath.Base(argv[0]) != "hoist-supervisor" {
		t.Fatalf("ExecStart=%q does not run hoist-supervisor", settings["ExecStart"])
	}
	cmd := exec.Command(testbin.Path(t, "hoist-supervisor"), append(argv[1:], "--help")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("hoist-supervisor %s --help: %v\n%s", strings.Join(argv[1:], " "), err, out)
	}
}

// deployUnits lists the systemd units shipped in deploy/.
func deployUnits(t *testing.T) []string {
	t.Helper()
	var units []string
	for _, pattern := range []string{"*.service", "*.timer", "*.socket", "*.path"} {
		m, err := filepath.Glob(filepath.Join(repoRoot(t), "deploy", pattern))
		if err != nil {
			t.Fatal(err)
		}
		units = append(units, m...)
	}
	if len(units) == 0 {
		t.Fatal("no systemd units in deploy/")
	}
	return units
}

// installableCopy copies unit into a temporary directory with the binaries'
// install path /usr/local/bin/ replaced by bin, as `systemd-analyze verify`
// checks that ExecStart's program exists.
func installableCopy(t *testing.T, unit, bin string) string {
	t.Helper()
	data, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "/usr/local/bin/", bin+"/")
	path := filepath.Join(t.TempDir(), filepath.Base(unit))
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// verifyUnit runs `systemd-analyze verify` and returns its complaints about
// the unit (lines naming other units of the machine are not ours to fix).
func verifyUnit(t *testing.T, analyze, path string) string {
	t.Helper()
	cmd := exec.Command(analyze, "verify", "--man=no", path)
	cmd.Dir = filepath.Dir(path)
	out, err := cmd.CombinedOutput()
	var ours []string
	name := filepath.Base(path)
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.Contains(line, name) {
			ours = append(ours, line)
		}
	}
	if err != nil && len(ours) == 0 {
		ours = append(ours, "exit status "+err.Error()+": "+lastLines(out, 5))
	}
	return strings.Join(ours, "\n")
}

// unitSettings reads KEY=VALUE lines of a unit file (last one wins).
func unitSettings(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	settings := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if key, value, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			settings[key] = value
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return settings
}
