// Command stamp is the trigger of hoistbench's signal benchmark. It writes
// one line "NAME [ARG] NS\n" to the file or fifo named by $HOISTBENCH_STAMPS:
// its own name (a trigger's file name), its first argument, and the
// CLOCK_MONOTONIC time in ns when its main started. It is kept tiny and
// static so that its own exec cost, which both hoist-supervisor and the
// bash baseline pay, stays small; hoistbench measures that cost too.
package main

import (
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

func main() {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		os.Exit(1)
	}
	line := filepath.Base(os.Args[0])
	if len(os.Args) > 1 {
		line += " " + os.Args[1]
	}
	line += " " + strconv.FormatInt(ts.Nano(), 10) + "\n"
	// O_APPEND and one write below PIPE_BUF: concurrent stamps never mix.
	f, err := os.OpenFile(os.Getenv("HOISTBENCH_STAMPS"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		os.Exit(1)
	}
	if _, err := f.WriteString(line); err != nil {
		os.Exit(1)
	}
}
