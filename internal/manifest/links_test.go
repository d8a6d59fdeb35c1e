package manifest

import (
	"strings"
	"testing"
)

// TestCheckLinks resolves symlinks through the manifest's other symlinks
// and refuses any that steps into a forbidden path, at its end or on the
// way there.
func TestCheckLinks(t *testing.T) {
	forbidden := func(p string) bool {
		return p == "statuses" || strings.HasPrefix(p, "statuses/") || p == "data" || strings.HasPrefix(p, "data/")
	}
	tests := []struct {
		name, entries string
		bad           string // "" if accepted, else the symlink named in the error
	}{
		{"no links", info, ""},
		{"link inside", file("app/a") + `,` + link("app/l", "a") + `,` + info, ""},
		{"prefix is not the dir", file("datafile") + `,` + info + `,` + link("l", "datafile"), ""},
		{"into statuses", info + `,` + link("scripts", "statuses"), "scripts"},
		{"below statuses", info + `,` + link("s", "statuses/update/01-run.sh"), "s"},
		{"up into statuses", info + `,` + link("scripts/update", "../statuses"), "scripts/update"},
		{"chain", link("a", "b") + `,` + link("b", "statuses") + `,` + info, "a"},
		{"chain through dir", link("a", "b/update") + `,` + link("b", "data") + `,` + info, "a"},
		{"through and back out", info + `,` + link("l", "statuses/x/../../app"), "l"},
		{"protected data", info + `,` + link("x", "./data/db"), "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse([]byte(doc(tt.entries)))
			if err != nil {
				t.Fatal(err)
			}
			err = m.CheckLinks(forbidden)
			switch {
			case tt.bad == "" && err != nil:
				t.Errorf("CheckLinks: %v", err)
			case tt.bad != "" && (err == nil || !strings.HasPrefix(err.Error(), "symlink "+tt.bad+" ->")):
				t.Errorf("CheckLinks = %v, want an error naming %s", err, tt.bad)
			}
		})
	}
}
