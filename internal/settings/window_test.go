package settings

import (
	"testing"
	"time"
)

func TestParseWindow(t *testing.T) {
	for _, s := range []string{"", "03:00-05:00", "23:30-01:15", "00:00-23:59"} {
		w, err := ParseWindow(s)
		if err != nil || w.String() != s {
			t.Errorf("ParseWindow(%q) = %q, %v", s, w, err)
		}
	}
	for _, s := range []string{"3:00-05:00", "03:00-05:00 ", "24:00-01:00", "03:60-05:00", "03:00", "03:00-03:00", "+3:00-05:00", "03:00–05:00", "ab:cd-ef:gh"} {
		if _, err := ParseWindow(s); err == nil {
			t.Errorf("ParseWindow(%q) accepted", s)
		}
	}
}

func TestWindowContainsAndNext(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	at := func(loc *time.Location, d, h, m int) time.Time { return time.Date(2026, 3, d, h, m, 0, 0, loc) }
	tests := []struct {
		window   string
		now      time.Time
		inside   bool
		wantNext time.Time
	}{
		{"", at(time.UTC, 5, 12, 0), true, at(time.UTC, 5, 12, 0)},
		{"03:00-05:00", at(time.UTC, 5, 3, 0), true, at(time.UTC, 5, 3, 0)},
		{"03:00-05:00", at(time.UTC, 5, 4, 59), true, at(time.UTC, 5, 4, 59)},
		{"03:00-05:00", at(time.UTC, 5, 5, 0), false, at(time.UTC, 6, 3, 0)},
		{"03:00-05:00", at(time.UTC, 5, 2, 0), false, at(time.UTC, 5, 3, 0)},
		// Crossing midnight: inside on both sides of it.
		{"23:00-02:00", at(time.UTC, 5, 23, 30), true, at(time.UTC, 5, 23, 30)},
		{"23:00-02:00", at(time.UTC, 6, 1, 59), true, at(time.UTC, 6, 1, 59)},
		{"23:00-02:00", at(time.UTC, 6, 2, 0), false, at(time.UTC, 6, 23, 0)},
		{"23:00-02:00", at(time.UTC, 6, 22, 59), false, at(time.UTC, 6, 23, 0)},
		// Local time: 03:00 in Berlin is 02:00 UTC in winter.
		{"03:00-05:00", at(time.UTC, 5, 2, 30).In(berlin), true, at(time.UTC, 5, 2, 30)},
		{"03:00-05:00", at(time.UTC, 5, 4, 30).In(berlin), false, at(berlin, 6, 3, 0)},
		// 2026-03-29 02:00-03:00 does not exist in Berlin: the start moves forward.
		{"02:30-04:00", at(berlin, 29, 1, 0), false, at(time.UTC, 29, 1, 30)},
	}
	for _, tt := range tests {
		w, err := ParseWindow(tt.window)
		if err != nil {
			t.Fatal(err)
		}
		if got := w.Contains(tt.now); got != tt.inside {
			t.Errorf("%q.Contains(%v) = %v", tt.window, tt.now, got)
		}
		if got := w.Next(tt.now); !got.Equal(tt.wantNext) {
			t.Errorf("%q.Next(%v) = %v, want %v", tt.window, tt.now, got, tt.wantNext)
		}
	}
}
