package settings

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

var windowPattern = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])$`)

// atoi converts digits the pattern matched.
func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// Window is the daily time range, in local time, in which automatic updates
// may start; written "HH:MM-HH:MM". The zero Window is "": any time. A
// window whose end is before its start crosses midnight ("23:00-02:00").
type Window struct {
	start, end int // minutes since midnight
	set        bool
}

// ParseWindow parses "HH:MM-HH:MM", or "" for no window.
func ParseWindow(s string) (Window, error) {
	if s == "" {
		return Window{}, nil
	}
	m := windowPattern.FindStringSubmatch(s)
	if m == nil {
		return Window{}, fmt.Errorf("window %q is not HH:MM-HH:MM (24-hour clock) or empty", s)
	}
	sh, sm, eh, em := atoi(m[1]), atoi(m[2]), atoi(m[3]), atoi(m[4])
	w := Window{start: sh*60 + sm, end: eh*60 + em, set: true}
	if w.start == w.end {
		return Window{}, fmt.Errorf("window %q is empty: start and end are equal", s)
	}
	return w, nil
}

// String is the window as written, "" when unset.
func (w Window) String() string {
	if !w.set {
		return ""
	}
	return fmt.Sprintf("%02d:%02d-%02d:%02d", w.start/60, w.start%60, w.end/60, w.end%60)
}

// IsZero reports whether there is no window (updates may start any time).
func (w Window) IsZero() bool { return !w.set }

// Contains reports whether t, in its own location, is inside the window:
// from start inclusive to end exclusive.
func (w Window) Contains(t time.Time) bool {
	if !w.set {
		return true
	}
	m := t.Hour()*60 + t.Minute()
	if w.start < w.end {
		return w.start <= m && m < w.end
	}
	return m >= w.start || m < w.end // crosses midnight
}

// Next returns the first instant at or after t inside the window: t itself
// when inside, else the next start, in t's location (a start that falls in
// a daylight saving gap is moved forward by time.Date).
func (w Window) Next(t time.Time) time.Time {
	if w.Contains(t) {
		return t
	}
	y, mo, d := t.Date()
	next := time.Date(y, mo, d, w.start/60, w.start%60, 0, 0, t.Location())
	if !next.After(t) {
		next = time.Date(y, mo, d+1, w.start/60, w.start%60, 0, 0, t.Location())
	}
	return next
}

// MarshalText writes the window as "HH:MM-HH:MM" or "".
func (w Window) MarshalText() ([]byte, error) { return []byte(w.String()), nil }

// UnmarshalText parses the window, refusing anything not ParseWindow's.
func (w *Window) UnmarshalText(b []byte) error {
	parsed, err := ParseWindow(string(b))
	if err != nil {
		return err
	}
	*w = parsed
	return nil
}
