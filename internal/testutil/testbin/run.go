package testbin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Result is how a process ended; Code is -1 when a signal killed it.
type Result struct {
	Code           int
	Stdout, Stderr string
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
}

// ProcessTimeout bounds every Run: none of the programs tests run should
// take long, and a hang is a failure, not a stuck test.
const ProcessTimeout = 2 * time.Minute

// Run runs the program bin with env added to the environment and returns
// how it ended. It fails the test if bin cannot be started or does not end
// within ProcessTimeout.
func Run(t testing.TB, env []string, bin string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ProcessTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s did not finish within %s\n%s", filepath.Base(bin), strings.Join(args, " "), ProcessTimeout, errOut.String())
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("%s %v: %v", filepath.Base(bin), args, err)
	}
	return Result{cmd.ProcessState.ExitCode(), out.String(), errOut.String()}
}
