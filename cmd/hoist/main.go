// Command hoist is the update engine and the user's tools (CONTRACT §1, §5, §8).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/hoist-dev/hoist/internal/cli"
	"github.com/hoist-dev/hoist/internal/exitcode"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// streams are where a command writes; tests pass buffers.
type streams struct {
	out, err io.Writer
}

type command struct {
	summary string
	run     func(ctx context.Context, s streams, args []string) error
}

func commands() map[string]command {
	return map[string]command{
		"init":     {"lay out a new app root", runInit},
		"apply":    {"install a release (default: updateTo from the status file)", runApply},
		"recover":  {"finish or undo an interrupted update", runRecover},
		"rollback": {"put back the newest backup", runRollback},
		"verify":   {"compare the live files with the live manifest", runVerify},
		"status":   {"print the update status", runStatus},
		"history":  {"print the history of updates and rollbacks", runHistory},
		"check":    {"print the release to install next", runCheck},
		"update":   {"request an update as the manager does", runUpdate},
		"release":  {"keygen, sign and verify releases", runRelease},
		"settings": {"print or change the owner's settings", runSettings},
	}
}

// run executes one command line and returns the process exit code. Errors
// are printed as one line on stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return exitcode.Usage
		}
		return exitcode.OK
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "hoist: unknown command %q\n", args[0])
		usage(stderr, cmds)
		return exitcode.Usage
	}
	return cli.Report(stderr, "hoist "+args[0], cmd.run(ctx, streams{stdout, stderr}, args[1:]))
}

func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for name := range cmds {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "usage: hoist COMMAND [--root DIR] [options]\n\ncommands:")
	for _, name := range names {
		fmt.Fprintf(w, "  %-9s %s\n", name, cmds[name].summary)
	}
	fmt.Fprintln(w, "\nRun 'hoist COMMAND --help' for a command's options.")
}
