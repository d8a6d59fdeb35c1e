// Package approot knows the layout of an app root (CONTRACT §2): where each
// file lives, which paths an update may never touch, and how to lay out a new
// root from the templates shipped with hoist.
package approot

import (
	"fmt"
	"os"
	"path/filepath"
)

// Paths inside an app root, slash-separated and relative to it.
const (
	InfoFile      = "info.json"
	ManifestFile  = "hoist-release.json"
	SignatureFile = "hoist-release.json.minisig"
	SignalsDir    = "events/signals"
	TriggersDir   = "triggers"
	StatusesDir   = "statuses"
	StateDir      = ".hoist"
	ConfigFile    = ".hoist/config.json"
	LockFile      = ".hoist/lock"
	LogsDir       = ".hoist/logs"
	BackupsDir    = ".hoist/backups"
	// ObjectsDir keeps the git objects of the releases fetched, so that an
	// update downloads only what changed.
	ObjectsDir = ".hoist/objects"
	// CheckCacheDir keeps what `hoist check` last read of the release
	// repository, so that the next check sends conditional requests.
	CheckCacheDir = ".hoist/check-cache"
	// CacheDir is the file cache (package objcache): files by sha256, from
	// which a release is staged, so that only new files are fetched.
	CacheDir = ".hoist/cache"
	// LastFailureLog is the report of the last failed run, kept until the next success.
	LastFailureLog = ".hoist/logs/last-failure.log"
	// StatusInfoCopy and StatusFailureCopy are the copies the engine writes
	// into statuses/ for the manager, which sees nothing else of the root.
	StatusInfoCopy    = "statuses/info.json"
	StatusFailureCopy = "statuses/last-failure.log"
	// StagingPrefix + tag names a release's staging clone, e.g. .app-v1.1.0.
	StagingPrefix = ".app-"
)

// EnvRoot is the environment variable naming the root when --root is not given.
const EnvRoot = "HOIST_ROOT"

// Dir returns the absolute app root: flagValue if set, else $HOIST_ROOT, else
// the working directory.
func Dir(flagValue string) (string, error) {
	dir := flagValue
	if dir == "" {
		dir = os.Getenv(EnvRoot)
	}
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("app root %q: %w", dir, err)
	}
	return abs, nil
}

// StagingDir is the staging clone's path relative to the root for tag.
func StagingDir(tag string) string { return StagingPrefix + tag }
