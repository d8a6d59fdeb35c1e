// Command lazyfsd serves a lazyfs power-loss file system (see package
// lazyfs) at a mount point until its standard input ends, taking commands
// there (cut, sync, crash N any|sync, stats, unmount) and answering each with a
// JSON line on standard output. lazyfs.Mount runs it; it can be run by hand:
//
//	lazyfsd [-size BYTES] [-unsynced-as-empty] [-global-commit] MOUNTPOINT
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hoist-dev/hoist/internal/testutil/lazyfs"
)

func main() {
	var o lazyfs.Options
	flag.Int64Var(&o.Size, "size", 0, "capacity in bytes (0: 1 GiB)")
	flag.BoolVar(&o.UnsyncedAsEmpty, "unsynced-as-empty", false, "a cut empties files written since their last fsync")
	flag.BoolVar(&o.GlobalCommit, "global-commit", false, "every fsync makes everything durable")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: lazyfsd [-size BYTES] [-unsynced-as-empty] [-global-commit] MOUNTPOINT")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, flag.Arg(0), o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "lazyfsd:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dir string, o lazyfs.Options) error {
	return lazyfs.Serve(ctx, dir, o, os.Stdin, os.Stdout)
}
