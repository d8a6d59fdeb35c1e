package clip

import (
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	long := strings.Repeat("x", Max)
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"v1.2.3", "v1.2.3"},
		{long, long},
		{long + "y", long + "..."},
		{strings.Repeat("z", 1<<20), strings.Repeat("z", Max) + "..."},
	} {
		if got := String(tc.in); got != tc.want {
			t.Errorf("String(%d bytes) = %d bytes %.10q..., want %d bytes", len(tc.in), len(got), got, len(tc.want))
		}
	}
}

func TestTo(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"abcdefghijk", 5, "abcde…"},
		{"aé", 2, "a…"},  // é is 2 bytes: cut before it, not inside
		{"ééé", 3, "é…"}, // byte 3 is inside the second é
		{"x", 0, "…"},
	} {
		if got := To(tc.in, tc.n); got != tc.want {
			t.Errorf("To(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
