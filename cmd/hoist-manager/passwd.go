package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hoist-dev/hoist/internal/account"
	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/cli"
	"github.com/hoist-dev/hoist/internal/exitcode"
)

// passwd sets the owner's password from the first line of stdin:
//
//	hoist-manager passwd [--root ROOT] < file
//
// It works whether the manager runs or not: each login reads the file.
func passwd(args []string, stdin io.Reader, stderr io.Writer) error {
	fs := flag.NewFlagSet("hoist-manager passwd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rootFlag := fs.String("root", "", "app root (default $HOIST_ROOT, else the current directory)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	dir, err := approot.Dir(*rootFlag)
	if err != nil {
		return err
	}
	// One byte over the cap tells a long password from a capped one.
	line, err := bufio.NewReaderSize(io.LimitReader(stdin, account.MaxPassword+2), account.MaxPassword+2).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read the password from stdin: %w", err)
	}
	password := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	statuses, err := os.OpenRoot(filepath.Join(dir, approot.StatusesDir))
	if err != nil {
		return fmt.Errorf("open statuses directory: %w", err)
	}
	defer statuses.Close()
	err = account.SetPassword(statuses, password, account.DefaultParams())
	if errors.Is(err, account.ErrWeakPassword) {
		return fmt.Errorf("%w: %v", exitcode.ErrUsage, err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stderr, "password set; sign in on the manager's page")
	return nil
}
