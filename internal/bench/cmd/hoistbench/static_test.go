package main

import "testing"

func TestRatioPlusAtMost(t *testing.T) {
	goal := ratioPlusAtMost(1.1, 64<<10)
	if goal.Text != "≤ 1.1× + 64.0 KiB" {
		t.Errorf("goal reads %q", goal.Text)
	}
	for _, tt := range []struct {
		hoist, base float64
		met         bool
	}{
		{hoist: 100 << 10, base: 40 << 10, met: true},  // 100 ≤ 44 + 64
		{hoist: 120 << 10, base: 40 << 10, met: false}, // 120 > 44 + 64
		{hoist: 1.1e6, base: 1e6, met: true},           // the ratio alone
		{hoist: 1.2e6, base: 1e6, met: false},          // 1.2e6 > 1.1e6 + 65536
		{hoist: 1.1e6 + 65536, base: 1e6, met: true},   // exactly at the goal
		{hoist: 1.1e6 + 65537, base: 1e6, met: false},  // a byte over
	} {
		if got := goal.Check(tt.hoist, tt.hoist/tt.base); got != tt.met {
			t.Errorf("hoist %.0f, baseline %.0f: met = %v, want %v", tt.hoist, tt.base, got, tt.met)
		}
	}
}
