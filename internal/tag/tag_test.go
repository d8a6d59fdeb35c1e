package tag

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	good := []string{"v1.0.0", "v0.9.0", "v10.20.30", "v1.0.0-rc1", "v1.3.0-beta.1", "v2.0.0-alpha.2.x"}
	for _, s := range good {
		v, err := Parse(s)
		if err != nil {
			t.Errorf("Parse(%q): %v", s, err)
			continue
		}
		if Of(v) != s {
			t.Errorf("Of(Parse(%q)) = %q", s, Of(v))
		}
	}
	bad := []string{"", "1.0.0", "v1.0", "v1.0.0-", "v1.0.0-rc/1", "v1.0.0-..", "v1.0.0-rc..1", "v1.0.0-rc.", "v1.0.0+build", "v1.0.0-beta_1", "v01.0.0", "v1.0.0;rm -rf /", "../v1.0.0", "v1.0.0/..",
		"v1.0.0\n", " v1.0.0", "v9999999999.0.0", strings.Repeat("v", 1<<20)}
	for _, s := range bad {
		if _, err := Parse(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%.20q) = %v, want ErrInvalid", s, err)
		}
	}
}
