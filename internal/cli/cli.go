// Package cli holds what every hoist binary's main does the same way: a
// context cancelled by SIGINT or SIGTERM, one error line on stderr, the exit
// code of CONTRACT §1, and flag errors mapped to usage errors.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/redact"
)

// RunFunc is a binary's testable body: it parses args and works until ctx
// is done, writing diagnostics to stderr.
type RunFunc func(ctx context.Context, args []string, stderr io.Writer) error

// Main runs run with the process's arguments and exits with the code of its
// error: 0 for nil and for --help, else one line "name: error" on stderr.
func Main(name string, run RunFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(Report(os.Stderr, name, err))
}

// Report prints err as one line prefixed by name and returns its exit code;
// flag.ErrHelp is not an error.
func Report(stderr io.Writer, name string, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitcode.OK
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", name, redact.String(err.Error()))
	}
	return exitcode.Code(err)
}

// Parse parses args into fs and refuses positional arguments. It returns
// flag.ErrHelp for --help and an error wrapping exitcode.ErrUsage otherwise.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", exitcode.ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", exitcode.ErrUsage, fs.Arg(0))
	}
	return nil
}
