package supervisorproc

import (
	"strings"
	"testing"
)

func TestCount(t *testing.T) {
	t.Parallel()
	log := `{"msg":"trigger failed","trigger":"hang","error":"hang: timed out after 500ms"}
not json
{"msg":"trigger failed","trigger":"update","error":"update exited with status 1","pad":"` + strings.Repeat("x", 100_000) + `"}
{"msg":"trigger started","trigger":"hang"}
{"msg":"trigger failed","trigger":"ha`
	for _, c := range []struct {
		msg    string
		fields []string
		want   int
	}{
		{"trigger failed", nil, 2},
		{"trigger failed", []string{"trigger", "hang"}, 1},
		{"trigger failed", []string{"trigger", "han"}, 0},     // other fields match whole
		{"trigger failed", []string{"error", "timed out"}, 1}, // "error" matches a part
		{"trigger failed", []string{"error", "status 1"}, 1},  // after a line longer than 64 KiB
		{"trigger failed", []string{"error", "status 2"}, 0},
		{"trigger", nil, 0},
	} {
		if got := count(log, c.msg, c.fields...); got != c.want {
			t.Errorf("Count(%q, %q) = %d, want %d", c.msg, c.fields, got, c.want)
		}
	}
}
