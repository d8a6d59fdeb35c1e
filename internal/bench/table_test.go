package bench

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestUnitFormat(t *testing.T) {
	tests := []struct {
		u    Unit
		v    float64
		want string
	}{
		{Seconds, 0, "0"},
		{Seconds, 412e-6, "412 µs"},
		{Seconds, 1.234e-3, "1.23 ms"},
		{Seconds, 0.123, "123 ms"},
		{Seconds, 4.567, "4.57 s"},
		{Bytes, 512, "512 B"},
		{Bytes, 2048, "2.0 KiB"},
		{Bytes, 7.5 * (1 << 20), "7.5 MiB"},
		{BytesPerSec, 612.4e6, "612 MB/s"},
		{ReqPerSec, 23456.7, "23457 req/s"},
		{ReqPerSec, 3.3333, "3.33 req/s"},
		{Count2, 1.004, "1.00"},
		{Count, 3, "3"},
		{Times, 1.234, "1.23×"},
		{Seconds, math.NaN(), "–"},
	}
	for _, tt := range tests {
		if got := tt.u.Format(tt.v); got != tt.want {
			t.Errorf("Format(%v, %v) = %q, want %q", tt.u, tt.v, got, tt.want)
		}
	}
}

func TestVerdict(t *testing.T) {
	tests := []struct {
		name string
		row  Row
		want string
	}{
		{"no goal", Row{Hoist: 1, Base: 1}, ""},
		{"ratio met", Row{Hoist: 1.2, Base: 1, Goal: RatioAtMost(1.3)}, "yes"},
		{"ratio missed", Row{Hoist: 1.4, Base: 1, Goal: RatioAtMost(1.3)}, "NO"},
		{"more is better", Row{Hoist: 0.9, Base: 1, Goal: RatioAtLeast(1)}, "NO"},
		{"absolute met without baseline", Row{Hoist: 5, Base: math.NaN(), Goal: AtMost(10, Bytes)}, "yes"},
		{"ratio goal without baseline fails", Row{Hoist: 5, Base: math.NaN(), Goal: RatioAtMost(2)}, "NO"},
		{"both: one missed", Row{Hoist: 3e-3, Base: 4e-3, Goal: Both(AtMost(2e-3, Seconds), RatioAtMost(1))}, "NO"},
		{"both met", Row{Hoist: 1e-3, Base: 4e-3, Goal: Both(AtMost(2e-3, Seconds), RatioAtMost(1))}, "yes"},
		{"failed", Failed("3", "x", AtLeast(1, Count), errors.New("boom")), "n/a"},
	}
	for _, tt := range tests {
		if got := tt.row.Verdict(); got != tt.want {
			t.Errorf("%s: Verdict = %q, want %q", tt.name, got, tt.want)
		}
	}
	rows := []Row{tests[1].row, tests[2].row, tests[8].row, tests[0].row}
	if got := Missed(rows); len(got) != 2 {
		t.Errorf("Missed = %d rows, want 2", len(got))
	}
}

func TestWriteTable(t *testing.T) {
	rows := []Row{
		{Group: "1", Measure: "p99 single", Unit: Seconds, Hoist: 1.5e-3, Base: 3e-3, Goal: Both(AtMost(2e-3, Seconds), RatioAtMost(1))},
		{Group: "2", Measure: "RSS", Unit: Bytes, Hoist: 8 << 20, Base: math.NaN(), Goal: AtMost(10<<20, Bytes)},
		Failed("5", "req/s c=16", AtLeast(20000, ReqPerSec), errors.New("wrk not found")),
	}
	var b strings.Builder
	if err := WriteTable(&b, rows); err != nil {
		t.Fatal(err)
	}
	want := `| # | measure    |   hoist | baseline | ratio | goal              | met |
| - | ---------- | ------: | -------: | ----: | ----------------- | --- |
| 1 | p99 single | 1.50 ms |  3.00 ms | 0.50× | ≤ 2.00 ms, ≤ 1.0× | yes |
| 2 | RSS        | 8.0 MiB |        – |     – | ≤ 10.0 MiB        | yes |
| 5 | req/s c=16 |  failed |        – |     – | ≥ 20000 req/s     | n/a |

5 req/s c=16 failed: wrk not found`
	if got := b.String(); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}
