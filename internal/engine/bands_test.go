package engine

import "testing"

// TestBands checks the progress table: the bands rise in the order an
// apply crosses them, cover 0–100 with neither gap nor overlap, and a
// phase's own progress stays inside its band, never falling.
func TestBands(t *testing.T) {
	if bands[0].lo != 0 || bands[len(bands)-1].hi != 100 {
		t.Errorf("bands cover [%d, %d), want [0, 100)", bands[0].lo, bands[len(bands)-1].hi)
	}
	for b := range band(len(bands)) {
		s := b.span()
		if s.lo >= s.hi {
			t.Errorf("band %d is empty or reversed: %v", b, s)
		}
		if b > 0 && s.lo != bands[b-1].hi {
			t.Errorf("band %d starts at %d, the one before ends at %d", b, s.lo, bands[b-1].hi)
		}
		checkSpan(t, s)
	}
	// A rollback's one script spans the three of an apply.
	checkSpan(t, bandScript01.through(bandScript03))
}

// checkSpan checks that at maps every phase progress, out of range too,
// into s without ever falling.
func checkSpan(t *testing.T, s span) {
	t.Helper()
	prev := s.lo
	for n := -10; n <= 110; n++ {
		got := s.at(n)
		if got < prev || got >= s.hi {
			t.Errorf("span %v: at(%d) = %d after %d", s, n, got, prev)
		}
		prev = got
	}
	if s.at(0) != s.lo || s.at(100) != s.hi-1 {
		t.Errorf("span %v maps 0–100 to %d–%d", s, s.at(0), s.at(100))
	}
}
