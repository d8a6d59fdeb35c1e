package config

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// validateProtect checks the protect list: each entry is a path relative to
// the app root, such as "data/" or "app/local.env". An absolute path, a ".."
// component or an empty entry would match no release path and so protect
// nothing, silently.
func validateProtect(protect []string) error {
	for _, p := range protect {
		var why string
		switch {
		case strings.TrimSpace(p) == "":
			why = "is empty"
		case strings.HasPrefix(p, "/"):
			why = "is absolute; write it relative to the app root, e.g. \"data/\""
		case slices.Contains(strings.Split(p, "/"), ".."):
			why = "has a \"..\" component"
		case path.Clean(p) == ".":
			why = "names the whole app root"
		}
		if why != "" {
			return fmt.Errorf("config: protect entry %q %s", p, why)
		}
	}
	return nil
}
