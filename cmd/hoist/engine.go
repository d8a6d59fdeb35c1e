package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hoist-dev/hoist/internal/engine"
	"github.com/hoist-dev/hoist/internal/logging"
	"github.com/hoist-dev/hoist/internal/nodeid"
	"github.com/hoist-dev/hoist/internal/tag"
)

// envCrashAt names the test-only crash hook (see engine.Options.CrashAt).
const envCrashAt = "HOIST_TEST_CRASH_AT"

// engineFlags are the flags of the engine commands.
type engineFlags struct {
	*flagSet
	logFormat *string
}

func newEngineFlags(s streams, name, synopsis string) engineFlags {
	fs := newFlags(s, name, synopsis)
	format := os.Getenv(logging.EnvFormat)
	if format == "" {
		format = "text"
	}
	return engineFlags{fs, fs.String("log-format", format, "log format on stderr: text or json; $"+logging.EnvFormat+" sets the default")}
}

// open opens the engine for the parsed flags, logging to stderr.
func (f engineFlags) open(s streams) (*engine.Engine, error) {
	dir, err := f.rootDir()
	if err != nil {
		return nil, err
	}
	log, err := logging.New(s.err, *f.logFormat)
	if err != nil {
		return nil, usageError(fmt.Sprintf("--log-format or $%s: %v", logging.EnvFormat, err))
	}
	// The log goes to whoever started the engine, typically a pipe to the
	// supervisor. If that reader dies, the next log line must not kill an
	// update halfway (Go exits on SIGPIPE from stdout or stderr): the write
	// fails, and the update carries on to its end. Notify rather than
	// Ignore: an ignored signal stays ignored across exec, and the release's
	// scripts must get the default SIGPIPE behaviour their pipelines expect.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	return engine.Open(engine.Options{Root: dir, Log: log, CrashAt: engine.Step(os.Getenv(envCrashAt))})
}

func runApply(ctx context.Context, s streams, args []string) error {
	fs := newEngineFlags(s, "apply", "[--to vX.Y.Z] [--allow-downgrade]")
	to := fs.String("to", "", "release tag to install (default: updateTo of the status file)")
	downgrade := fs.Bool("allow-downgrade", false, "allow installing an older release")
	if err := fs.parse(args, 0, 0); err != nil {
		return err
	}
	// Checked before anything is opened: a bad tag names nothing on disk.
	if *to != "" {
		if _, err := tag.Parse(*to); err != nil {
			return usageError("--to: " + err.Error())
		}
	}
	return withEngine(s, fs, func(e *engine.Engine) (string, error) {
		return e.Apply(ctx, engine.ApplyOptions{To: *to, AllowDowngrade: *downgrade})
	})
}

func runRecover(ctx context.Context, s streams, args []string) error {
	fs := newEngineFlags(s, "recover", "")
	if err := fs.parse(args, 0, 0); err != nil {
		return err
	}
	err := withEngine(s, fs, func(e *engine.Engine) (string, error) {
		msg, err := e.Recover(ctx)
		if msg == "" && err == nil {
			msg = "nothing to recover"
		}
		return msg, err
	})
	if err != nil {
		return err
	}
	// Roots made before node ids get one here: the supervisor runs recover
	// at every start. Without one the node only misses partial rollouts,
	// so this warns rather than fails a recovery that succeeded.
	if err := ensureNodeID(fs); err != nil {
		fmt.Fprintf(s.err, "hoist recover: warning: node id: %v\n", err)
	}
	return nil
}

// ensureNodeID gives the root its node id and the manager its copy.
func ensureNodeID(fs engineFlags) error {
	dir, err := fs.rootDir()
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	_, err = nodeid.Ensure(root, nodeid.HostID())
	return err
}

func runRollback(ctx context.Context, s streams, args []string) error {
	fs := newEngineFlags(s, "rollback", "")
	if err := fs.parse(args, 0, 0); err != nil {
		return err
	}
	return withEngine(s, fs, func(e *engine.Engine) (string, error) { return e.Rollback(ctx) })
}

func runVerify(ctx context.Context, s streams, args []string) error {
	fs := newEngineFlags(s, "verify", "[--fix]")
	fix := fs.Bool("fix", false, "restore changed or missing files from a verified copy")
	if err := fs.parse(args, 0, 0); err != nil {
		return err
	}
	e, err := fs.open(s)
	if err != nil {
		return err
	}
	defer e.Close()
	res, err := e.Verify(ctx, *fix)
	for _, p := range res.Fixed {
		fmt.Fprintf(s.out, "fixed: %s\n", p)
	}
	for _, p := range res.Unfixed {
		if *fix {
			fmt.Fprintf(s.out, "could not fix: %s\n", p)
		} else {
			fmt.Fprintf(s.out, "%s\n", p)
		}
	}
	if errors.Is(err, engine.ErrModified) {
		return fmt.Errorf("%w (%d of v%s's files)", err, len(res.Unfixed), res.Version)
	}
	if err == nil {
		fmt.Fprintf(s.out, "v%s: all files match the release\n", res.Version)
	}
	return err
}

// withEngine opens the engine, runs fn and prints its summary.
func withEngine(s streams, fs engineFlags, fn func(*engine.Engine) (string, error)) error {
	e, err := fs.open(s)
	if err != nil {
		return err
	}
	defer e.Close()
	msg, err := fn(e)
	if err == nil {
		fmt.Fprintln(s.out, msg)
	}
	return err
}
