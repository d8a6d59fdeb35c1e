package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"
)

// Unit says what a figure measures and how it is printed. Values are kept
// in base units: seconds, bytes, bytes or requests per second, counts.
type Unit int

// The units of figures.
const (
	Seconds Unit = iota
	Bytes
	BytesPerSec
	ReqPerSec
	Count
	Times  // a factor
	Count2 // a count or rate with two decimals
)

// Format prints v in u with a readable scale ("1.23 ms", "48.2 MiB").
func (u Unit) Format(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	switch u {
	case Seconds:
		return formatSeconds(v)
	case Bytes:
		return formatBytes(v)
	case BytesPerSec:
		return fmt.Sprintf("%.0f MB/s", v/1e6)
	case ReqPerSec:
		if math.Abs(v) < 10 { // a fleet's rate at its server
			return fmt.Sprintf("%.2f req/s", v)
		}
		return fmt.Sprintf("%.0f req/s", v)
	case Times:
		return fmt.Sprintf("%.2f×", v)
	case Count2:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func formatSeconds(s float64) string {
	switch a := math.Abs(s); {
	case a == 0:
		return "0"
	case a < 1e-3:
		return fmt.Sprintf("%.0f µs", s*1e6)
	case a < 10e-3:
		return fmt.Sprintf("%.2f ms", s*1e3)
	case a < 1:
		return fmt.Sprintf("%.0f ms", s*1e3)
	}
	return fmt.Sprintf("%.2f s", s)
}

func formatBytes(b float64) string {
	switch a := math.Abs(b); {
	case a >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case a >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

// Goal is what a row should reach. Check gets hoist's figure and the
// ratio (NaN without a baseline).
type Goal struct {
	Text  string
	Check func(hoist, ratio float64) bool
}

// RatioAtMost is met when hoist ÷ baseline ≤ r: less is better.
func RatioAtMost(r float64) Goal {
	return Goal{fmt.Sprintf("≤ %.1f×", r), func(_, ratio float64) bool { return ratio <= r }}
}

// RatioAtLeast is met when hoist ÷ baseline ≥ r: more is better.
func RatioAtLeast(r float64) Goal {
	return Goal{fmt.Sprintf("≥ %.1f×", r), func(_, ratio float64) bool { return ratio >= r }}
}

// AtMost is met when hoist's own figure is at most v (in u).
func AtMost(v float64, u Unit) Goal {
	return Goal{"≤ " + u.Format(v), func(h, _ float64) bool { return h <= v }}
}

// AtLeast is met when hoist's own figure is at least v (in u).
func AtLeast(v float64, u Unit) Goal {
	return Goal{"≥ " + u.Format(v), func(h, _ float64) bool { return h >= v }}
}

// Both is met when a and b are.
func Both(a, b Goal) Goal {
	return Goal{a.Text + ", " + b.Text, func(h, r float64) bool { return a.Check(h, r) && b.Check(h, r) }}
}

// Row is one figure of the table.
type Row struct {
	Group   string // the measurement it belongs to, e.g. "1"
	Measure string
	Unit    Unit
	Hoist   float64
	Base    float64  // NaN: no baseline for this figure
	Goal    Goal     // zero: reported only
	Err     error    // the measurement failed; the row says so
	Needs   []string // programs missing: the measurement was skipped
}

// Failed is the row of a measurement that could not be made.
func Failed(group, measure string, goal Goal, err error) Row {
	return Row{Group: group, Measure: measure, Hoist: math.NaN(), Base: math.NaN(), Goal: goal, Err: err}
}

// Ratio is hoist ÷ baseline, NaN without a usable baseline.
func (r Row) Ratio() float64 {
	if r.Err != nil || math.IsNaN(r.Base) || r.Base == 0 {
		return math.NaN()
	}
	return r.Hoist / r.Base
}

// Verdict says whether the row meets its goal: "yes", "NO", "n/a" when it
// could not be measured, "skipped" when a program it needs is missing, ""
// when it has no goal.
func (r Row) Verdict() string {
	switch {
	case len(r.Needs) > 0:
		return "skipped"
	case r.Goal.Check == nil:
		return ""
	case r.Err != nil || math.IsNaN(r.Hoist):
		return "n/a"
	case r.Goal.Check(r.Hoist, r.Ratio()):
		return "yes"
	}
	return "NO"
}

// Missed returns the rows that have a goal and do not meet it (including
// ones that could not be measured, but not skipped ones).
func Missed(rows []Row) []Row {
	var out []Row
	for _, r := range rows {
		if v := r.Verdict(); v == "NO" || v == "n/a" {
			out = append(out, r)
		}
	}
	return out
}

// WriteTable writes rows as one Markdown table with aligned columns,
// followed by the errors of rows that failed.
func WriteTable(w io.Writer, rows []Row) error {
	cells := [][]string{{"#", "measure", "hoist", "baseline", "ratio", "goal", "met"}}
	for _, r := range rows {
		hoist := r.Unit.Format(r.Hoist)
		switch {
		case len(r.Needs) > 0:
			hoist = r.skipText()
		case r.Err != nil:
			hoist = "failed"
		}
		ratio := "–"
		if x := r.Ratio(); !math.IsNaN(x) {
			ratio = fmt.Sprintf("%.2f×", x)
		}
		cells = append(cells, []string{r.Group, r.Measure, hoist, r.Unit.Format(r.Base), ratio, r.Goal.Text, r.Verdict()})
	}
	widths := make([]int, len(cells[0]))
	for _, row := range cells {
		for i, c := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	line := func(row []string) {
		for i, c := range row {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if i >= 2 && i <= 4 { // numbers align right
				c = pad + c
			} else {
				c += pad
			}
			b.WriteString("| " + c + " ")
		}
		b.WriteString("|\n")
	}
	line(cells[0])
	sep := make([]string, len(widths))
	for i, n := range widths {
		sep[i] = strings.Repeat("-", n)
		if i >= 2 && i <= 4 {
			sep[i] = sep[i][1:] + ":"
		}
	}
	line(sep)
	for _, row := range cells[1:] {
		line(row)
	}
	for _, r := range rows {
		if r.Err != nil {
			fmt.Fprintf(&b, "\n%s %s failed: %v", r.Group, r.Measure, r.Err)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
