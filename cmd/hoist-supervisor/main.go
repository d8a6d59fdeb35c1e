// Command hoist-supervisor watches events/signals/ and runs triggers (CONTRACT §6).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/cli"
	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/logging"
	"github.com/hoist-dev/hoist/internal/supervisor"
)

func main() { cli.Main("hoist-supervisor", run) }

// run parses args and supervises the root until ctx is done. It returns
// flag.ErrHelp for --help and an error wrapping exitcode.ErrUsage for bad
// arguments. Logs go to logOut.
func run(ctx context.Context, args []string, logOut io.Writer) error {
	fs := flag.NewFlagSet("hoist-supervisor", flag.ContinueOnError)
	fs.SetOutput(logOut)
	root := fs.String("root", "", "app root (default $HOIST_ROOT, else the current directory)")
	format := fs.String("log-format", "text", "log format: text or json")
	timeout := fs.Duration("trigger-timeout", 2*time.Hour, "kill a trigger's process group after this long")
	grace := fs.Duration("grace", 30*time.Second, "on SIGTERM, wait this long for running triggers before killing them")
	fs.Usage = func() {
		fmt.Fprintln(logOut, "usage: hoist-supervisor [--root DIR] [--log-format text|json] [--trigger-timeout D] [--grace D]\n\n"+
			"Watches ROOT/events/signals/ and runs ROOT/triggers/<signal> (run as root, e.g. by systemd).")
		fs.PrintDefaults()
	}
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	switch {
	case *timeout <= 0:
		return fmt.Errorf("%w: --trigger-timeout must be positive", exitcode.ErrUsage)
	case *grace < 0:
		return fmt.Errorf("%w: --grace must not be negative", exitcode.ErrUsage)
	}
	log, err := logging.New(logOut, *format)
	if err != nil {
		return fmt.Errorf("%w: %v", exitcode.ErrUsage, err)
	}
	dir, err := approot.Dir(*root)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("own executable: %w", err)
	}
	return supervisor.Run(ctx, supervisor.Options{
		Root:           dir,
		Log:            log,
		TriggerTimeout: *timeout,
		Grace:          *grace,
		BinDir:         filepath.Dir(exe),
		Notify: func(state string) {
			if _, err := daemon.SdNotify(false, state); err != nil {
				log.WithError(err).Warn("systemd notification failed")
			}
		},
	})
}
