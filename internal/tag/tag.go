// Package tag validates release tags (vX.Y.Z, or vX.Y.Z-PRE for a beta
// release such as v1.3.0-beta.1) and turns them into versions.
//
// A tag reaches root code from the manager-writable status file, so it is
// checked against a strict pattern before it names anything on disk: the
// pre-release is dot-separated letters and digits, never "/" or "..".
package tag

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/hashicorp/go-version"

	"github.com/hoist-dev/hoist/internal/clip"
)

var pattern = regexp.MustCompile(`^v(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})(-[0-9A-Za-z]{1,20}(\.[0-9A-Za-z]{1,20}){0,3})?$`)

// ErrInvalid marks a string that is not a release tag.
var ErrInvalid = errors.New("not a release tag of the form vX.Y.Z")

// Parse checks that s is a tag such as v1.2.3 and returns its version.
func Parse(s string) (*version.Version, error) {
	if !pattern.MatchString(s) {
		return nil, fmt.Errorf("%q: %w", clip.String(s), ErrInvalid)
	}
	v, err := version.NewSemver(s[1:])
	if err != nil {
		return nil, fmt.Errorf("%q: %w", clip.String(s), ErrInvalid)
	}
	return v, nil
}

// Of returns the tag naming version v ("1.2.3" → "v1.2.3", "1.3.0-beta.1"
// → "v1.3.0-beta.1").
func Of(v *version.Version) string {
	s := v.Segments()
	t := fmt.Sprintf("v%d.%d.%d", s[0], s[1], s[2])
	if pre := v.Prerelease(); pre != "" {
		t += "-" + pre
	}
	return t
}
