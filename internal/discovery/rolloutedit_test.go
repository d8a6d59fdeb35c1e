package discovery

import (
	"errors"
	"testing"
	"time"
)

func TestSetRollout(t *testing.T) {
	pct := func(p float64) *float64 { return &p }
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		in   string
		r    Rollout
		want string
		err  error
	}{
		{"added", `{"version":"1.3.0","app":"myapp"}`, Rollout{Percent: pct(10)},
			"{\n  \"version\": \"1.3.0\",\n  \"app\": \"myapp\",\n  \"rollout\": {\n    \"percent\": 10\n  }\n}\n", nil},
		{"replaced in place", `{"version":"1.3.0","rollout":{"percent":10},"app":"myapp","x":[1,2]}`, Rollout{Start: &start, Days: 7},
			"{\n  \"version\": \"1.3.0\",\n  \"rollout\": {\n    \"start\": \"2026-12-01T00:00:00Z\",\n    \"days\": 7\n  },\n  \"app\": \"myapp\",\n  \"x\": [\n    1,\n    2\n  ]\n}\n", nil},
		{"halt", `{"version":"1.3.0","rollout":{"percent":40}}`, Rollout{Percent: pct(0)},
			"{\n  \"version\": \"1.3.0\",\n  \"rollout\": {\n    \"percent\": 0\n  }\n}\n", nil},
		{"bad percent", `{"version":"1.3.0"}`, Rollout{Percent: pct(101)}, "", ErrBadInfo},
		{"both forms", `{"version":"1.3.0"}`, Rollout{Percent: pct(5), Start: &start, Days: 1}, "", ErrBadInfo},
		{"bad info.json", `{"version":"one"}`, Rollout{Percent: pct(5)}, "", ErrBadInfo},
		{"not an object", `["version"]`, Rollout{Percent: pct(5)}, "", ErrBadInfo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SetRollout([]byte(tc.in), tc.r)
			if !errors.Is(err, tc.err) || (tc.err == nil && string(got) != tc.want) {
				t.Fatalf("SetRollout = %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
			if tc.err != nil {
				return
			}
			// What it wrote is what a node reads.
			info, err := ParseInfo(got)
			if err != nil {
				t.Fatal(err)
			}
			r, err := info.rollout()
			at := start.Add(36 * time.Hour)
			if err != nil || r == nil || r.PercentAt(at) != tc.r.PercentAt(at) {
				t.Fatalf("rollout of the result: %+v, %v; want %+v", r, err, tc.r)
			}
		})
	}
}
