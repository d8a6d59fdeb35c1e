package signalname

import (
	"errors"
	"path"
	"regexp"
	"strings"
	"testing"
)

// contract is CONTRACT §6's rule for a signal name, as a regexp.
var contract = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// FuzzCheck checks Check against the contract's regexp on arbitrary
// strings, and that what it accepts is safe wherever a signal name goes:
// one path element, never an option, and every trigger Targets names for
// it is itself valid, with arguments that are valid names.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"update", "rollback", "app-web", "repo-x_y", "a", strings.Repeat("a", 64), strings.Repeat("a", 65),
		"", ".", "..", "../update", "update/..", ".hidden", "-rf", "app--rf", "app-", "app-.x", "Update",
		"up date", "update\n", "update\x00", "ünï", "%2e%2e", "app-app-app", "repo-", "a/b", "a\\b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := Check(name)
		if ok := contract.MatchString(name); ok != (err == nil) {
			t.Fatalf("Check(%q) = %v, the contract says valid = %v", name, err, ok)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Check(%q) error does not wrap ErrInvalid: %v", name, err)
			}
			return
		}
		if path.Base(name) != name || name == "." || name == ".." || strings.HasPrefix(name, "-") {
			t.Fatalf("Check accepted %q, which is not a safe file name and argument", name)
		}
		targets := Targets(name)
		if len(targets) == 0 || targets[0].Trigger != name || len(targets[0].Args) != 0 {
			t.Fatalf("Targets(%q) = %+v: the signal's own trigger must come first", name, targets)
		}
		for _, tg := range targets {
			if err := Check(tg.Trigger); err != nil {
				t.Fatalf("Targets(%q) names trigger %q: %v", name, tg.Trigger, err)
			}
			for _, a := range tg.Args {
				if err := Check(a); err != nil || !strings.HasSuffix(name, "-"+a) {
					t.Fatalf("Targets(%q) passes argument %q", name, a)
				}
			}
		}
	})
}
