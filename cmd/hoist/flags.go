package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/exitcode"
)

// flagSet is a command's flags with the --root flag every command accepts.
type flagSet struct {
	*flag.FlagSet
	root       string
	positional []string
}

// newFlags returns the flags of command name; synopsis follows "hoist name".
func newFlags(s streams, name, synopsis string) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet("hoist "+name, flag.ContinueOnError)}
	fs.SetOutput(s.err)
	fs.StringVar(&fs.root, "root", "", "app root (default $HOIST_ROOT, else the current directory)")
	fs.Usage = func() {
		fmt.Fprintf(s.err, "usage: hoist %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, allowing flags after positional arguments, and checks
// the number of positional arguments. It returns flag.ErrHelp for --help and
// an error wrapping exitcode.ErrUsage for anything else that is wrong.
func (fs *flagSet) parse(args []string, minArgs, maxArgs int) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return fmt.Errorf("%w: %v", exitcode.ErrUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	if len(positional) < minArgs || (maxArgs >= 0 && len(positional) > maxArgs) {
		fs.Usage()
		return fmt.Errorf("%w: wrong number of arguments", exitcode.ErrUsage)
	}
	fs.positional = positional
	return nil
}

// rootDir resolves --root, $HOIST_ROOT or the working directory.
func (fs *flagSet) rootDir() (string, error) { return approot.Dir(fs.root) }

// openStatuses opens the app root's statuses/ directory, the manager's side.
func (fs *flagSet) openStatuses() (*os.Root, error) {
	dir, err := fs.rootDir()
	if err != nil {
		return nil, err
	}
	statuses, err := os.OpenRoot(filepath.Join(dir, approot.StatusesDir))
	if err != nil {
		return nil, fmt.Errorf("open statuses directory: %w", err)
	}
	return statuses, nil
}

func usageError(msg string) error { return fmt.Errorf("%w: %s", exitcode.ErrUsage, msg) }

// listFlag is a flag that may be given several times, e.g. --key A --key B.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// List defines a flag that may be given several times.
func (fs *flagSet) List(name, usage string) *listFlag {
	l := new(listFlag)
	fs.Var(l, name, usage)
	return l
}
