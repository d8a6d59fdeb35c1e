package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/logging"
)

// TestLogFormatFromEnvironment: $HOIST_LOG_FORMAT, which the supervisor sets
// for its triggers, is the default of --log-format; the flag still wins, and
// a bad value is a usage error.
func TestLogFormatFromEnvironment(t *testing.T) {
	key := filepath.Join(t.TempDir(), "k")
	if code, _, errOut := runHoist(t, "release", "keygen", "--out", key); code != 0 {
		t.Fatalf("keygen exit %d: %s", code, errOut)
	}
	root := filepath.Join(t.TempDir(), "app")
	repo := "file://" + filepath.Join(t.TempDir(), "missing")
	if code, _, errOut := runHoist(t, "init", root, "--repo", repo, "--pub", key+".pub"); code != 0 {
		t.Fatalf("init exit %d: %s", code, errOut)
	}
	const failed = "update to v1.0.0 failed" // logged at error: the repository does not exist
	tests := []struct {
		env   string
		flags []string
		want  string // "json", "text" or "usage"
	}{
		{"json", nil, "json"},
		{"", nil, "text"},
		{"text", []string{"--log-format", "json"}, "json"},
		{"json", []string{"--log-format", "text"}, "text"},
		{"xml", nil, "usage"},
	}
	for _, tt := range tests {
		t.Setenv(logging.EnvFormat, tt.env)
		code, _, errOut := runHoist(t, append([]string{"apply", "--root", root, "--to", "v1.0.0"}, tt.flags...)...)
		lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
		last := lines[len(lines)-1] // the command's error, a plain line whatever the format
		ok := false
		switch tt.want {
		case "json":
			for _, line := range lines[:len(lines)-1] {
				var e map[string]any
				if err := json.Unmarshal([]byte(line), &e); err != nil {
					t.Errorf("%s=%s %q: not a JSON entry: %q", logging.EnvFormat, tt.env, tt.flags, line)
				}
				ok = ok || (e["level"] == "error" && e["msg"] == failed)
			}
			ok = ok && code == exitcode.Failure && strings.HasPrefix(last, "hoist apply: ")
		case "text":
			ok = code == exitcode.Failure && strings.Contains(errOut, `level=error msg="`+failed+`"`)
		case "usage":
			ok = code == exitcode.Usage && len(lines) == 1 &&
				strings.Contains(last, `$HOIST_LOG_FORMAT: log format "xml"`)
		}
		if !ok {
			t.Errorf("%s=%s %q: exit %d, want %s logging:\n%s", logging.EnvFormat, tt.env, tt.flags, code, tt.want, errOut)
		}
	}
}
