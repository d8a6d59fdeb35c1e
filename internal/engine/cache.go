package engine

import (
	"context"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/manifest"
	"github.com/hoist-dev/hoist/internal/objcache"
)

// The object cache (.hoist/cache, package objcache) holds the files of the
// live release, by sha256. A clone links every file the cache has into the
// staging tree, so an update checks out only new content, and the install
// copies the few linked files it puts in place (install.Options.CopyShared):
// a live file never shares an object's inode. After a successful apply the
// cache takes copies of the new live files it lacks, each hashed (the
// update's scripts may have written them since they were verified), and
// drops the objects the live release no longer has; a failed apply leaves
// it as it was. It is a cache, never the truth: every tree staged from it
// is verified, one that fails drops it (distrustStore), and failing to
// open or update it only logs.

// openCache opens the object cache, or returns nil after logging why not.
func (e *Engine) openCache() *objcache.Cache {
	c, err := objcache.Open(e.root, approot.CacheDir)
	if err != nil {
		e.log.WithError(err).Warn("could not open the object cache; going on without it")
		return nil
	}
	return c
}

// updateCache makes the cache hold the files of the live release m: it
// copies in those it lacks while it drops the others. It runs after the
// status says success: it is housekeeping.
func (e *Engine) updateCache(ctx context.Context, m *manifest.Manifest) {
	c := e.openCache()
	if c == nil {
		return
	}
	defer c.Close()
	if err := c.Replace(ctx, e.root, fileHashes(m)); err != nil {
		e.log.WithError(err).Warn("could not bring the object cache up to the live release")
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
