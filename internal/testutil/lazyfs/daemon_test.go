//go:build !arm

package lazyfs

import (
	"strings"
	"testing"
)

func TestDaemonCommands(t *testing.T) {
	m := &mounted{server: newServer(Options{Size: DefaultSize})}
	tests := []struct {
		line    string
		wantErr string
	}{
		{"stats", ""},
		{"sync", ""},
		{"crash 3 sync", ""},
		{"crash -1 any", ""},
		{"crash x any", `count "x"`},
		{"crash 1 maybe", `step "maybe"`},
		{"crash 1", "unknown command"},
		{"reboot", "unknown command"},
	}
	for _, tt := range tests {
		r := m.command(tt.line)
		if !strings.Contains(r.Error, tt.wantErr) || tt.wantErr == "" && r.Error != "" {
			t.Errorf("%q: error %q, want %q", tt.line, r.Error, tt.wantErr)
		}
	}
	if r := m.command("stats"); r.Stats == nil {
		t.Error("stats: no stats")
	}
}
