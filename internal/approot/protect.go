package approot

import (
	"path"
	"strings"
)

// alwaysProtected are never written or deleted by an update, whatever the
// config or a release says: hoist's own state and the manager's directories.
var alwaysProtected = []string{StateDir + "/", "events/", StatusesDir + "/"}

// Protected reports whether the slash-separated relative path rel lies in a
// path an update must not touch: one of extra (the config's "protect" list,
// where a trailing slash means a directory), hoist's own state, the manager's
// directories, or a staging clone.
func Protected(rel string, extra []string) bool {
	rel = path.Clean(rel)
	if strings.HasPrefix(rel, StagingPrefix) {
		return true
	}
	for _, list := range [][]string{alwaysProtected, extra} {
		for _, p := range list {
			if covers(p, rel) {
				return true
			}
		}
	}
	return false
}

// LinkForbidden reports whether no release symlink may point to or into
// rel: a protected path, whose content the manager, the user or hoist
// itself writes, or triggers/, whose programs the supervisor runs as root.
// Through such a link, a release path would name files the release does
// not control, and root would read or run them as the release's own.
func LinkForbidden(rel string, extra []string) bool {
	return Protected(rel, extra) || covers(TriggersDir, path.Clean(rel))
}

func covers(protected, rel string) bool {
	dir := strings.TrimSuffix(path.Clean(protected), "/")
	return rel == dir || strings.HasPrefix(rel, dir+"/")
}
