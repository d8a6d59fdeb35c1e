package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Missing returns the programs of needs that have says are absent, in
// order: a measurement runs only when this is empty.
func Missing(needs []string, have func(program string) bool) []string {
	var out []string
	for _, p := range needs {
		if !have(p) {
			out = append(out, p)
		}
	}
	return out
}

// Skipped is the row of a measurement not made because the programs in
// missing are not installed. It has no verdict: a machine without wrk has
// not missed a goal.
func Skipped(group, measure string, missing []string) Row {
	return Row{Group: group, Measure: measure, Hoist: math.NaN(), Base: math.NaN(), Needs: missing}
}

// skipText is what a skipped row shows in place of hoist's figure.
func (r Row) skipText() string { return "skipped: needs " + strings.Join(r.Needs, ", ") }

// Summary is what follows the table: how many goals were missed or met,
// and which measurements were skipped for want of which program, with how
// to install them.
func Summary(rows []Row) string {
	goals := 0
	var programs []string           // missing programs, in order of first need
	groups := map[string][]string{} // program → the measurements it held back
	for _, r := range rows {
		if r.Goal.Check != nil {
			goals++
		}
		for _, p := range r.Needs {
			if groups[p] == nil {
				programs = append(programs, p)
			}
			if !slices.Contains(groups[p], r.Group) {
				groups[p] = append(groups[p], r.Group)
			}
		}
	}
	var lines []string
	if missed := len(Missed(rows)); missed > 0 {
		lines = append(lines, fmt.Sprintf("Missed goals: %d of %d.", missed, goals))
	} else if goals > 0 {
		lines = append(lines, fmt.Sprintf("All %d goals met.", goals))
	}
	if len(programs) > 0 {
		var needs []string
		for _, p := range programs {
			needs = append(needs, fmt.Sprintf("%s (%s)", p, strings.Join(groups[p], ", ")))
		}
		lines = append(lines, "Skipped for want of "+strings.Join(needs, ", ")+
			": `.ci/bench-deps`, run as root, installs them (Debian).")
	}
	return strings.Join(lines, "\n")
}
