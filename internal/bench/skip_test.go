package bench

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestMissing(t *testing.T) {
	installed := map[string]bool{"bash": true, "git": true}
	have := func(p string) bool { return installed[p] }
	tests := []struct {
		needs, want []string
	}{
		{nil, nil},
		{[]string{"bash", "git"}, nil},
		{[]string{"wrk"}, []string{"wrk"}},
		{[]string{"inotifywait", "bash", "wrk"}, []string{"inotifywait", "wrk"}},
	}
	for _, tt := range tests {
		if got := Missing(tt.needs, have); !slices.Equal(got, tt.want) {
			t.Errorf("Missing(%v) = %v, want %v", tt.needs, got, tt.want)
		}
	}
}

// A skipped measurement says what it needs, has no verdict or ratio, and
// is neither a missed goal nor a failure.
func TestSkippedRows(t *testing.T) {
	rows := []Row{
		{Group: "1", Measure: "p50", Unit: Seconds, Hoist: 1e-3, Base: 2e-3, Goal: RatioAtMost(1)},
		Skipped("5", "GET /v1/system/update-status", []string{"wrk"}),
		Skipped("1", "signal → trigger start", []string{"bash", "inotifywait"}),
	}
	if v := rows[1].Verdict(); v != "skipped" {
		t.Errorf("Verdict = %q", v)
	}
	if r := rows[1].Ratio(); !math.IsNaN(r) {
		t.Errorf("Ratio = %v", r)
	}
	if m := Missed(rows); len(m) != 0 {
		t.Errorf("Missed = %v", m)
	}
	var b strings.Builder
	if err := WriteTable(&b, rows); err != nil {
		t.Fatal(err)
	}
	want := `| # | measure                      |                            hoist | baseline | ratio | goal   | met     |
| - | ---------------------------- | -------------------------------: | -------: | ----: | ------ | ------- |
| 1 | p50                          |                          1.00 ms |  2.00 ms | 0.50× | ≤ 1.0× | yes     |
| 5 | GET /v1/system/update-status |               skipped: needs wrk |        – |     – |        | skipped |
| 1 | signal → trigger start       | skipped: needs bash, inotifywait |        – |     – |        | skipped |
`
	if got := b.String(); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}

func TestSummary(t *testing.T) {
	met := Row{Group: "1", Hoist: 1, Base: 2, Goal: RatioAtMost(1)}
	missed := Row{Group: "3", Hoist: 3, Base: 2, Goal: RatioAtMost(1.3)}
	noWrk := Skipped("5", "GET", []string{"wrk"})
	noInotify := []Row{Skipped("1", "signals", []string{"bash", "inotifywait"}), Skipped("2", "idle", []string{"inotifywait"})}
	const how = ": `.ci/bench-deps`, run as root, installs them (Debian)."
	tests := []struct {
		name string
		rows []Row
		want string
	}{
		{"all met", []Row{met, {Group: "2", Hoist: 1, Base: 1}}, "All 1 goals met."},
		{"missed", []Row{met, missed}, "Missed goals: 1 of 2."},
		{"some skipped", []Row{met, noWrk}, "All 1 goals met.\nSkipped for want of wrk (5)" + how},
		{"all skipped", append([]Row{noWrk}, noInotify...), "Skipped for want of wrk (5), bash (1), inotifywait (1, 2)" + how},
	}
	for _, tt := range tests {
		if got := Summary(tt.rows); got != tt.want {
			t.Errorf("%s: Summary =\n%s\nwant\n%s", tt.name, got, tt.want)
		}
	}
}
