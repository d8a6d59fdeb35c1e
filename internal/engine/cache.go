package engine

import (
	"context"
	"os"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/manifest"
	"github.com/hoist-dev/hoist/internal/objcache"
)

// The object cache (.hoist/cache, package objcache) holds the files of the
// live release and of the release downloaded last, by sha256. A clone links
// every file the cache has into the staging tree, so an update checks out
// only new content, and the install copies the few linked files it puts in
// place (install.Options.CopyShared): a live file never shares an object's
// inode. The cache is filled from each verified staging tree and, after a
// successful apply, pruned to the live release. It is a cache, never the
// truth: every tree staged from it is verified, one that fails drops it
// (distrustStore), and failing to open, fill or prune it only logs.

// openCache opens the object cache, or returns nil after logging why not.
func (e *Engine) openCache() *objcache.Cache {
	c, err := objcache.Open(e.root, approot.CacheDir)
	if err != nil {
		e.log.WithError(err).Warn("could not open the object cache; going on without it")
		return nil
	}
	return c
}

// fillCache adds the files of the verified release m in staging that the
// cache lacks. Nothing else writes staging meanwhile: the engine holds the
// lock and no script has run from it yet.
func (e *Engine) fillCache(ctx context.Context, staging *os.Root, m *manifest.Manifest) {
	c := e.openCache()
	if c == nil {
		return
	}
	defer c.Close()
	if err := c.Add(ctx, staging, fileHashes(m)); err != nil {
		e.log.WithError(err).Warn("could not add the release to the object cache")
	}
}

// pruneCache leaves in the cache only the files of the live release m. It
// runs after the status says success: it is housekeeping.
func (e *Engine) pruneCache(ctx context.Context, m *manifest.Manifest) {
	c := e.openCache()
	if c == nil {
		return
	}
	defer c.Close()
	keep := map[string]bool{}
	for _, sum := range fileHashes(m) {
		keep[sum] = true
	}
	if err := c.Keep(ctx, keep); err != nil {
		e.log.WithError(err).Warn("could not prune the object cache")
	}
}

// fileHashes maps the path of each regular file of m to its sha256.
func fileHashes(m *manifest.Manifest) map[string]string {
	files := make(map[string]string, len(m.Files))
	for _, f := range m.Files {
		if !f.IsLink() {
			files[f.Path] = f.SHA256
		}
	}
	return files
}
