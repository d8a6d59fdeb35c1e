package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"testing"

	"github.com/hoist-dev/hoist/internal/exitcode"
)

func TestParse(t *testing.T) {
	tests := []struct {
		args []string
		want error
	}{
		{[]string{"--n", "3"}, nil},
		{[]string{"--help"}, flag.ErrHelp},
		{[]string{"--n", "x"}, exitcode.ErrUsage},
		{[]string{"--nope"}, exitcode.ErrUsage},
		{[]string{"extra"}, exitcode.ErrUsage},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.Int("n", 0, "")
		err := Parse(fs, tt.args)
		if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("Parse(%q) = %v, want %v", tt.args, err, tt.want)
		}
	}
}

func TestReport(t *testing.T) {
	tests := []struct {
		err     error
		code    int
		printed string
	}{
		{nil, exitcode.OK, ""},
		{flag.ErrHelp, exitcode.OK, ""},
		{fmt.Errorf("%w: bad", exitcode.ErrUsage), exitcode.Usage, "x: usage error: bad\n"},
		{fmt.Errorf("held: %w", exitcode.ErrLocked), exitcode.Locked, "x: held: already in progress\n"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		if code := Report(&buf, "x", tt.err); code != tt.code || buf.String() != tt.printed {
			t.Errorf("Report(%v) = %d %q, want %d %q", tt.err, code, buf.String(), tt.code, tt.printed)
		}
	}
}
