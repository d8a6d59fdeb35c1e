package signalname

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"update", true},
		{"rollback", true},
		{"a", true},
		{"0", true},
		{"app-my_app-2", true},
		{"a-", true},
		{strings.Repeat("a", MaxLen), true},
		{strings.Repeat("a", MaxLen+1), false},
		{"", false},
		{".", false},
		{"..", false},
		{"../x", false},
		{".hidden", false},
		{".hoist-tmp-update-0123456789abcdef", false},
		{"Update", false},
		{"a b", false},
		{"a/b", false},
		{"a.b", false},
		{"a\n", false},
		{"a\x00", false},
		{"ünï", false},
		{"caf\u00e9", false},
		{"-a", false},
		{"_a", false},
	}
	for _, tt := range tests {
		err := Check(tt.name)
		if tt.ok && err != nil {
			t.Errorf("Check(%q) = %v, want nil", tt.name, err)
		}
		if !tt.ok && !errors.Is(err, ErrInvalid) {
			t.Errorf("Check(%q) = %v, want ErrInvalid", tt.name, err)
		}
	}
}

func TestCheckSaysWhy(t *testing.T) {
	for name, want := range map[string]string{
		".x":                          "dot file",
		strings.Repeat("x", MaxLen+1): "longer than 64",
		"aBc":                         `"B" at offset 1`,
		"ü":                           `"\xc3" at offset 0`,
	} {
		if err := Check(name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check(%q) = %v, want it to say %q", name, err, want)
		}
	}
}

func TestTargets(t *testing.T) {
	tests := []struct {
		name string
		want []Target
	}{
		{"update", []Target{{Trigger: "update"}}},
		{"app", []Target{{Trigger: "app"}}},
		{"app-nextcloud", []Target{{Trigger: "app-nextcloud"}, {Trigger: "app", Args: []string{"nextcloud"}}}},
		{"repo-x-y", []Target{{Trigger: "repo-x-y"}, {Trigger: "repo", Args: []string{"x-y"}}}},
		{"app-", []Target{{Trigger: "app-"}}},
		{"app--rf", []Target{{Trigger: "app--rf"}}},
		{"apps-x", []Target{{Trigger: "apps-x"}}},
		{"myapp-x", []Target{{Trigger: "myapp-x"}}},
	}
	for _, tt := range tests {
		if got := Targets(tt.name); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Targets(%q) = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
