package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hoist-dev/hoist/internal/history"
)

// runHistory prints the run history the engine publishes in
// statuses/history.json, newest first: the same entries as GET
// /v1/system/history.
func runHistory(ctx context.Context, s streams, args []string) error {
	fs := newFlags(s, "history", "[--json]")
	asJSON := fs.Bool("json", false, "print the entries as JSON, as GET /v1/system/history answers")
	if err := fs.parse(args, 0, 0); err != nil {
		return err
	}
	statuses, err := fs.openStatuses()
	if err != nil {
		return err
	}
	defer statuses.Close()
	entries, err := history.Read(statuses)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(s, entries)
	}
	return printHistory(s.out, entries, time.Local)
}

// printHistory writes entries as a table, times in loc.
func printHistory(w io.Writer, entries []history.Entry, loc *time.Location) error {
	if len(entries) == 0 {
		_, err := fmt.Fprintln(w, "no runs recorded yet")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED\tACTION\tFROM\tTO\tDURATION\tRESULT\tREASON\tID")
	for _, e := range entries {
		result, took := string(e.Result), "-"
		if e.Result == "" {
			result = "running"
		}
		if !e.Finished.IsZero() { // zero: running, or ended by a crash
			took = duration(e.Finished.Sub(e.Started))
		}
		reason := e.Reason
		if e.Script != "" && !strings.Contains(reason, e.Script) {
			reason = e.Script + ": " + reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Started.In(loc).Format("2006-01-02 15:04:05"),
			e.Action, orDash(e.From), orDash(e.To), took, result, oneLine(reason), e.ID)
	}
	return tw.Flush()
}

// duration rounds d for people: to the second, or to the millisecond
// below one.
func duration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a reason on its row: a tab or newline in it would break
// the table.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
