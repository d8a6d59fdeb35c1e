package main

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/testutil/testbin"
)

// The supervisor's own behaviour is tested in internal/supervisor; these
// are the command line's exit codes and messages.
func TestCommandLine(t *testing.T) {
	bin := testbin.Path(t, "hoist-supervisor")
	tests := []struct {
		args []string
		code int
		want string // in the last line of stderr
	}{
		{[]string{"--help"}, 0, "kill a trigger's process group after this long"},
		{[]string{"--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"extra"}, 2, `unexpected argument "extra"`},
		{[]string{"--log-format", "xml"}, 2, `log format "xml"`},
		{[]string{"--trigger-timeout", "0"}, 2, "--trigger-timeout must be positive"},
		{[]string{"--grace", "-1s"}, 2, "--grace must not be negative"},
		{[]string{"--grace", "soon"}, 2, "invalid value"},
		{[]string{"--root", "/nonexistent/hoist-root"}, 1, "app root: "},
	}
	for _, tt := range tests {
		cmd := exec.Command(bin, tt.args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		if last := lines[len(lines)-1]; code != tt.code || !strings.Contains(last, tt.want) {
			t.Errorf("hoist-supervisor %q: exit %d, last line %q; want exit %d and %q", tt.args, code, last, tt.code, tt.want)
		}
	}
}
