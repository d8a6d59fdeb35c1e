package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/redact"
	"github.com/hoist-dev/hoist/internal/safefs"
)

// tailLines is how many of a script log's last lines the report shows.
const tailLines = 50

// maxTailRead caps how much of a script log is read for the report.
const maxTailRead = 256 << 10

// writeReport writes the report of the failed transaction to
// .hoist/logs/last-failure.log and its copy for the manager in statuses/.
func (t *txn) writeReport(outcome string) error {
	f := t.fail
	var b strings.Builder
	fmt.Fprintf(&b, "%s failed\n\n", t.desc())
	fmt.Fprintf(&b, "time:        %s\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "from:        %s\n", orNone(t.begin.From))
	fmt.Fprintf(&b, "to:          v%s\n", t.begin.To)
	fmt.Fprintf(&b, "failed at:   %s (last step journaled)\n", f.Step)
	if f.Script != "" {
		fmt.Fprintf(&b, "script:      %s\n", f.Script)
	}
	if f.ExitStatus != nil {
		fmt.Fprintf(&b, "exit status: %d\n", *f.ExitStatus)
	}
	fmt.Fprintf(&b, "reason:      %s\n", f.Reason)
	fmt.Fprintf(&b, "outcome:     %s\n", outcome)
	if f.Log != "" {
		fmt.Fprintf(&b, "log:         %s\n", f.Log)
		lines, err := t.e.tail(f.Log, tailLines)
		if err != nil {
			fmt.Fprintf(&b, "\n(could not read the log: %v)\n", err)
		} else {
			fmt.Fprintf(&b, "\nlast %d lines of output:\n", len(lines))
			for _, l := range lines {
				b.WriteString(l + "\n")
			}
		}
	}
	data := []byte(redact.String(b.String())) // the copy in statuses/ is public
	return errors.Join(
		safefs.WriteFile(t.e.root, approot.LastFailureLog, data, 0o600),
		safefs.WriteFile(t.e.statuses, path.Base(approot.StatusFailureCopy), data, 0o644),
	)
}

func orNone(v string) string {
	if v == "" {
		return "(no release)"
	}
	return "v" + v
}

// tail returns the last n lines of the log file name.
func (e *Engine) tail(name string, n int) ([]string, error) {
	f, err := e.root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, start, err := safefs.ReadTail(f, maxTailRead)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(bytes.TrimRight(data, "\n")), "\n")
	if start > 0 && len(lines) > 0 {
		lines = lines[1:] // cut mid-line
	}
	return lines[max(len(lines)-n, 0):], nil
}

// removeReports removes the last failure's report and its copy: a
// successful update ends their time.
func (e *Engine) removeReports() error {
	return errors.Join(
		ignoreMissing(e.root.Remove(approot.LastFailureLog)),
		ignoreMissing(e.statuses.Remove(path.Base(approot.StatusFailureCopy))),
	)
}

func ignoreMissing(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
