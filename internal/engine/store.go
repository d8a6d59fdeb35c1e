package engine

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/fetch"
)

// clone downloads release tg into the staging dir, through the object store
// of the releases fetched before, so that only what changed is downloaded,
// and links the files the object cache has (cache.go).
// A release over max_release_bytes is a rejection.
func (e *Engine) clone(ctx context.Context, tg, staging string, progress io.Writer) error {
	if e.cfg.Static() {
		return e.stageStatic(ctx, tg, staging, progress)
	}
	token, err := e.cfg.Token()
	if err != nil {
		return err
	}
	o := fetch.Options{
		URL: e.cfg.Repo, Tag: tg, Dir: filepath.Join(e.dir, staging), Progress: progress,
		Store: filepath.Join(e.dir, approot.ObjectsDir), StallTimeout: e.cfg.FetchStallTimeout(),
		MaxBytes: e.cfg.FetchMaxBytes(), Token: token,
	}
	if c := e.openCache(); c != nil {
		defer c.Close()
		o.Cache = c
	}
	err = fetch.Clone(ctx, o)
	if errors.Is(err, fetch.ErrTooLarge) {
		return rejectf("%s rejected: release exceeds max_release_bytes: %v", tg, err)
	}
	return err
}

// distrustStore removes the object store and the object cache after a
// clone out of them failed to verify: the fault may be theirs (a torn
// object), and the next attempt must not get the same tree from them.
func (e *Engine) distrustStore() {
	for _, dir := range []string{approot.ObjectsDir, approot.CacheDir} {
		if err := e.discard(dir); err != nil {
			e.log.WithError(err).Warnf("could not remove %s", dir)
		}
	}
}

// pruneStore leaves in the object store only what the live release tg
// needs. It runs after the status says success: it is housekeeping.
func (e *Engine) pruneStore(ctx context.Context, tg string) {
	if err := fetch.PruneStore(ctx, filepath.Join(e.dir, approot.ObjectsDir), tg); err != nil {
		e.log.WithError(err).Warn("could not prune the object store")
	}
}

var percent = regexp.MustCompile(`Receiving objects:\s+(\d{1,3})%`)

// downloadProgress turns git's "Receiving objects: NN%" into progress.
func downloadProgress(f func(int, string)) writerFunc {
	return func(p []byte) (int, error) {
		if all := percent.FindAllSubmatch(p, -1); len(all) > 0 {
			n, _ := strconv.Atoi(string(all[len(all)-1][1]))
			f(n, "")
		}
		return len(p), nil
	}
}

type writerFunc func(p []byte) (int, error)

func (w writerFunc) Write(p []byte) (int, error) { return w(p) }
