package notify

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/statusfile"
)

var (
	t0        = time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	success   = func(v string) Observation { return Observation{State: statusfile.Success, Version: v} }
	installTo = func(to, v string) Observation {
		return Observation{State: statusfile.Installing, UpdateTo: to, Version: v}
	}
)

// Each sequence of observations makes the events a person would expect,
// and only those.
func TestDerive(t *testing.T) {
	failedTo := func(to, v, script string) Observation {
		return Observation{State: statusfile.Failed, UpdateTo: to, Version: v, Reason: "exit status 3; restored v1.0.0", Script: script}
	}
	for _, tt := range []struct {
		name string
		obs  []Observation
		want []string // "kind text"
	}{
		{"baseline only", []Observation{success("1.0.0")}, nil},
		{"baseline while installing", []Observation{installTo("v1.1.0", "1.0.0"), success("1.1.0")},
			[]string{"succeeded hoist: updated to v1.1.0 (from v1.0.0)"}},
		{"same status again", []Observation{success("1.0.0"), success("1.0.0"), success("1.0.0")}, nil},
		{"update", []Observation{success("1.0.0"), installTo("v1.1.0", "1.0.0"), installTo("v1.1.0", "1.0.0"), success("1.1.0")},
			[]string{"started hoist: updating to v1.1.0 (from v1.0.0)", "succeeded hoist: updated to v1.1.0 (from v1.0.0)"}},
		{"failed in a script", []Observation{success("1.0.0"), installTo("v1.1.0", "1.0.0"), failedTo("v1.1.0", "1.0.0", "02-run.sh")},
			[]string{"started hoist: updating to v1.1.0 (from v1.0.0)", "failed hoist: update to v1.1.0 failed in 02-run.sh: exit status 3; restored v1.0.0"}},
		{"failure seen without its start", []Observation{success("1.0.0"), failedTo("v1.1.0", "1.0.0", "")},
			[]string{"failed hoist: update to v1.1.0 failed: exit status 3; restored v1.0.0"}},
		{"retry after a failure", []Observation{failedTo("v1.1.0", "1.0.0", ""), installTo("v1.1.0", "1.0.0")},
			[]string{"started hoist: updating to v1.1.0 (from v1.0.0)"}},
		{"rollback", []Observation{success("1.1.0"), installTo("v1.0.0", "1.1.0"), success("1.0.0")},
			[]string{"started hoist: rolling back to v1.0.0 (from v1.1.0)", "rolled-back hoist: rolled back to v1.0.0 (from v1.1.0)"}},
		{"update while the manager was down", []Observation{success("1.0.0"), success("1.1.0")},
			[]string{"succeeded hoist: updated to v1.1.0 (from v1.0.0)"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var w watch
			var got []string
			for i, o := range tt.obs {
				var notes []note
				w, notes = derive(w, o, t0.Add(time.Duration(i)*time.Minute))
				for _, n := range notes {
					got = append(got, string(n.kind)+" "+n.text)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// The script named in the failure report is taken only when the report is
// about the update that failed.
func TestNewObservationScript(t *testing.T) {
	report := []byte("update failed\n\ntime:        2026-12-05T03:00:00Z\nfrom:        v1.0.0\nto:          v1.1.0\nscript:      02-run.sh\nreason:      exit status 3\n")
	st := statusfile.Status{State: statusfile.Failed, UpdateTo: "v1.1.0", Description: "exit status 3; restored v1.0.0"}
	if o := NewObservation(st, "1.0.0", report); o.Script != "02-run.sh" || o.Reason != st.Description {
		t.Errorf("%+v", o)
	}
	st.UpdateTo = "v1.2.0"
	if o := NewObservation(st, "1.0.0", report); o.Script != "" {
		t.Errorf("script %q from another update's report", o.Script)
	}
	if o := NewObservation(statusfile.Status{State: statusfile.Installing, Description: "Running 02-run.sh"}, "1.0.0", report); o.Reason != "" || o.Script != "" {
		t.Errorf("installing: %+v", o)
	}
}

// A failing check is news after a day of failures, once per streak; a
// success ends the streak.
func TestCheckFailing(t *testing.T) {
	boom := errors.New("repository unreachable")
	var w watch
	var keys []string
	for _, step := range []struct {
		at  time.Duration
		err error
	}{{0, boom}, {12 * time.Hour, boom}, {25 * time.Hour, boom}, {31 * time.Hour, boom}, {32 * time.Hour, nil}, {33 * time.Hour, boom}, {58 * time.Hour, boom}} {
		var notes []note
		w, notes = checked(w, "", step.err, t0.Add(step.at))
		for _, n := range notes {
			if !strings.Contains(n.text, "repository unreachable") {
				t.Errorf("text %q", n.text)
			}
			keys = append(keys, n.key)
		}
	}
	// The outbox refuses a key seen before, so the first streak is told once.
	if len(keys) != 3 || keys[0] != keys[1] || keys[0] == keys[2] {
		t.Errorf("keys %q: want two streaks, one key each", keys)
	}
}
