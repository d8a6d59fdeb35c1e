package approot

import "testing"

func TestProtected(t *testing.T) {
	extra := []string{"data/", "secrets.env"}
	tests := []struct {
		rel  string
		want bool
	}{
		{"data", true},
		{"data/db/x", true},
		{"database.txt", false},
		{"secrets.env", true},
		{".hoist/config.json", true},
		{"events/signals/update", true},
		{"events", true},
		{"statuses/update-status.json", true},
		{".app-v1.1.0/info.json", true},
		{"info.json", false},
		{"scripts/update/01-run.sh", false},
		{"./data/x", true},
	}
	for _, tt := range tests {
		if got := Protected(tt.rel, extra); got != tt.want {
			t.Errorf("Protected(%q) = %v, want %v", tt.rel, got, tt.want)
		}
	}
}

func TestLinkForbidden(t *testing.T) {
	extra := []string{"data/"}
	for rel, want := range map[string]bool{
		"triggers":        true,
		"triggers/update": true,
		"triggers-old":    false,
		"statuses":        true,
		"events/signals":  true,
		".hoist":          true,
		".app-v1.2.0":     true,
		"data/db":         true,
		"scripts/update":  false,
		"app/config.yml":  false,
		"":                false,
	} {
		if got := LinkForbidden(rel, extra); got != want {
			t.Errorf("LinkForbidden(%q) = %v, want %v", rel, got, want)
		}
	}
}
