package manifest

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/clip"
	"github.com/hoist-dev/hoist/internal/infofile"
)

// Info is what a release's info.json says of the release's identity.
type Info struct {
	Version string `json:"version"`
	App     string `json:"app"` // optional: `hoist release sign --app` can give it
}

// ReadInfo reads dir's info.json.
func ReadInfo(dir *os.Root) (Info, error) {
	var info Info
	data, err := infofile.ReadFile(dir, approot.InfoFile)
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return info, fmt.Errorf("parse %s: %w", approot.InfoFile, err)
	}
	return info, nil
}

// appPattern is the form of an app id: short, lowercase, usable as a
// file name and in a minisign trusted comment.
var appPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// ValidApp checks that id is an app id: [a-z0-9][a-z0-9-]{0,63}.
func ValidApp(id string) error {
	if !appPattern.MatchString(id) {
		return fmt.Errorf("app id %q is not 1 to 64 of a-z, 0-9 and '-', starting with a letter or digit", clip.String(id))
	}
	return nil
}
