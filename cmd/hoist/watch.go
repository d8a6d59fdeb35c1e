package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/hoist-dev/hoist/internal/request"
	"github.com/hoist-dev/hoist/internal/statusfile"
)

// watchPoll is how often --watch and --wait re-read the status behind fsnotify.
const watchPoll = time.Second

// errUpdateFailed is returned when a watched update ends in state failed.
var errUpdateFailed = errors.New("update failed")

// statusView shows a followed update as it goes.
type statusView interface {
	progress(st statusfile.Status)
	unknown(reason string) // the status cannot be read
	close()
}

// watchUpdate shows the status until the state is success or failed, then
// prints the result. A missing status file means success (CONTRACT §3) only
// at the first read: once an update is being followed, its status file
// disappearing says nothing about how the update went, so the status is
// unknown until the file is back.
func watchUpdate(ctx context.Context, s streams, statuses *os.Root) error {
	view := newStatusView(s)
	var last statusfile.Status
	first := true
	err := request.Watch(ctx, statuses, watchPoll, func(st statusfile.Status, err error) bool {
		missing := errors.Is(err, fs.ErrNotExist)
		if missing && first {
			err = nil // nothing to follow: the default status, success
		}
		first = false
		switch {
		case missing && err != nil:
			view.unknown("the status file was removed")
			return false
		case err != nil:
			view.unknown(err.Error())
			return false
		}
		last = st
		if st.State == statusfile.Installing {
			view.progress(st)
			return false
		}
		return true
	})
	view.close()
	if err != nil {
		return err
	}
	desc := printable(last.Description)
	if last.State == statusfile.Failed {
		return fmt.Errorf("%w: %s", errUpdateFailed, desc)
	}
	if desc == "" {
		fmt.Fprintln(s.out, last.State)
	} else {
		fmt.Fprintf(s.out, "%s: %s\n", last.State, desc)
	}
	return nil
}

// newStatusView draws a progress bar when both output streams are a
// terminal, and otherwise writes plain lines that read well in a log.
func newStatusView(s streams) statusView {
	if isTerminal(s.out) && isTerminal(s.err) {
		return newBarView(s.err)
	}
	return &lineView{w: s.out}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// lineView writes one line per change of progress or description, such as
// "35% Checking the services can stop", and one per unknown status.
type lineView struct {
	w    io.Writer
	last string
}

func (v *lineView) progress(st statusfile.Status) {
	v.println(strings.TrimSpace(fmt.Sprintf("%d%% %s", st.Progress, printable(st.Description))))
}

func (v *lineView) unknown(reason string) { v.println("status unknown: " + printable(reason)) }

func (v *lineView) println(line string) {
	if line != v.last {
		fmt.Fprintln(v.w, line)
		v.last = line
	}
}

func (v *lineView) close() {}

// barView redraws one progress bar in place.
type barView struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

func newBarView(w io.Writer) *barView {
	return &barView{w: w, bar: progressbar.NewOptions(100,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionSetRenderBlankState(true),
	)}
}

func (v *barView) progress(st statusfile.Status) {
	d := st.Description
	if st.UpdateTo != "" {
		d = st.UpdateTo + " " + d
	}
	v.bar.Describe(label(d))
	v.bar.Set(st.Progress)
}

func (v *barView) unknown(reason string) { v.bar.Describe(label("status unknown: " + reason)) }

func (v *barView) close() { fmt.Fprintln(v.w) }

// label is the bar's description, kept short so the bar fits on one line.
func label(d string) string {
	d = printable(d)
	if r := []rune(d); len(r) > 48 {
		d = string(r[:47]) + "…"
	}
	return fmt.Sprintf("%-48s", d)
}

// printable replaces control characters with spaces: the status file is
// written by the unprivileged manager, and a terminal must not run the
// escape sequences it might hold.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
