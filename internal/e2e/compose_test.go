package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// mount is one bind mount of the manager container.
type mount struct {
	Source, Target string
	ReadOnly       bool
}

// composeRootVar is how compose.yaml names the app root in mount sources.
const composeRootVar = "${HOIST_ROOT:-/opt/app}"

// composeMounts reads the manager's bind mounts from compose.yaml, with the
// app root replaced by root. It understands only the long volume syntax that
// file uses (no YAML parser is available offline) and fails on anything else,
// so the docker test runs the container with exactly these mounts.
func composeMounts(path, root string) ([]mount, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		mounts []mount
		indent = -1 // of "volumes:" once found
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		text := strings.TrimSpace(line)
		depth := len(line) - len(strings.TrimLeft(line, " "))
		switch {
		case text == "" || strings.HasPrefix(text, "#"):
			continue
		case indent < 0:
			if text == "volumes:" {
				indent = depth
			}
			continue
		case depth <= indent:
			return mounts, nil
		}
		if item, ok := strings.CutPrefix(text, "- "); ok {
			mounts = append(mounts, mount{})
			text = item
		}
		if len(mounts) == 0 {
			return nil, fmt.Errorf("%s:%d: expected a volume item", path, n)
		}
		key, value, _ := strings.Cut(text, ": ")
		m := &mounts[len(mounts)-1]
		switch key {
		case "type":
			if value != "bind" {
				return nil, fmt.Errorf("%s:%d: only bind mounts are expected, got %q", path, n, value)
			}
		case "source":
			m.Source = strings.Replace(value, composeRootVar, root, 1)
		case "target":
			m.Target = value
		case "read_only":
			m.ReadOnly = value == "true"
		default:
			return nil, fmt.Errorf("%s:%d: unexpected volume line %q (use the long syntax)", path, n, text)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if indent < 0 {
		return nil, fmt.Errorf("%s: no volumes", path)
	}
	return mounts, nil
}

// TestComposeMountsOnlyWhatTheManagerNeeds: the manager container sees
// statuses/ and events/signals/ (rw) and info.json (ro), nothing else of the
// host, at the paths its --root /app expects.
func TestComposeMountsOnlyWhatTheManagerNeeds(t *testing.T) {
	repo := repoRoot(t)
	mounts, err := composeMounts(filepath.Join(repo, "compose.yaml"), "/ROOT")
	if err != nil {
		t.Fatal(err)
	}
	want := []mount{
		{"/ROOT/statuses", "/app/statuses", false},
		{"/ROOT/events/signals", "/app/events/signals", false},
		{"/ROOT/info.json", "/app/info.json", true},
	}
	if !slices.Equal(mounts, want) {
		t.Errorf("compose.yaml mounts\n%v\nwant exactly\n%v", mounts, want)
	}
	compose := readText(t, filepath.Join(repo, "compose.yaml"))
	for _, want := range []string{`user: "1000:1000"`, "read_only: true", "--token-file=/run/secrets/hoist_token", "secrets: [hoist_token]"} {
		if !strings.Contains(compose, want) {
			t.Errorf("compose.yaml lacks %s", want)
		}
	}
}

func TestDockerfileIsScratchUnprivileged(t *testing.T) {
	dockerfile := readText(t, filepath.Join(repoRoot(t), "Dockerfile"))
	var from []string
	for _, line := range strings.Split(dockerfile, "\n") {
		if strings.HasPrefix(line, "FROM ") {
			from = append(from, line)
		}
	}
	if !slices.Equal(from, []string{"FROM scratch"}) {
		t.Errorf("Dockerfile FROM lines %q, want only FROM scratch (no registry is reachable)", from)
	}
	for _, want := range []string{"USER 1000:1000", "EXPOSE 3006", `ENTRYPOINT ["/hoist-manager", "--root", "/app"]`} {
		if !strings.Contains(dockerfile, want+"\n") {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
}

func TestComposeMountsRejectsOtherSyntax(t *testing.T) {
	tests := map[string]string{
		"short syntax": "services:\n  m:\n    volumes:\n      - /opt/app:/app\n",
		"volume type":  "services:\n  m:\n    volumes:\n      - type: volume\n        source: x\n",
		"no volumes":   "services:\n  m:\n    image: x\n",
	}
	for name, text := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "compose.yaml")
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			if m, err := composeMounts(path, "/ROOT"); err == nil {
				t.Errorf("composeMounts = %v, want an error", m)
			}
		})
	}
}

func readText(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
