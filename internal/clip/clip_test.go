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
