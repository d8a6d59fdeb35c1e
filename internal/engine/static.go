package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync/atomic"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/fetch"
	"github.com/hoist-dev/hoist/internal/manifest"
	"github.com/hoist-dev/hoist/internal/objcache"
	"github.com/hoist-dev/hoist/internal/objfetch"
	releasepkg "github.com/hoist-dev/hoist/internal/release"
	"github.com/hoist-dev/hoist/internal/safefs"
	"github.com/hoist-dev/hoist/internal/tufclient"
	"github.com/hoist-dev/hoist/internal/tufrepo"
)

// Caps of the small targets read into memory; TUF gives their exact
// length, these bound what a repository may sign at all.
const (
	maxSignatureTarget = 64 << 10
	maxSizesTarget     = 16 << 20
)

// stager builds a staging tree from a static release repository.
type stager struct {
	e     *Engine
	repo  *tufclient.Client
	cache *objcache.Cache
	fetch *objfetch.Client
	// held and total are the bytes downloaded and to download, for the
	// progress.
	held, total atomic.Int64
}

// stageStatic is clone for a static repository: it refreshes the TUF
// metadata, fetches release tg's manifest and signature (length and
// sha256 from TUF), checks the signature, then builds the staging dir file
// by file from the object cache, downloading into it only the objects it
// lacks. When the cache lacks most of the release (a fresh install, an
// update that changes most bytes) and the release has a tarball, or the
// repository serves no objects, the tree is extracted from the tarball
// instead: one request, and no copy through the cache (static_tarball.go).
// The tree then goes through the same verification as a git clone.
func (e *Engine) stageStatic(ctx context.Context, tg, staging string, progress io.Writer) error {
	token, err := e.cfg.Token()
	if err != nil {
		return err
	}
	repo, err := tufclient.Refresh(ctx, tufclient.Options{
		URL: e.cfg.Repo, TargetsURL: e.cfg.TargetsURL, Dir: filepath.Join(e.dir, tufclient.StateDir),
		Token: token, Retries: e.cfg.FetchRetries(), StallTimeout: e.cfg.FetchStallTimeout(),
	})
	if errors.Is(err, tufclient.ErrUntrusted) {
		return rejectf("%s rejected: %v", tg, err)
	}
	if err != nil {
		return err
	}
	cache, err := objcache.Open(e.root, approot.CacheDir)
	if err != nil {
		return err
	}
	defer cache.Close()
	s := &stager{e: e, repo: repo, cache: cache}
	s.fetch = objfetch.New(objfetch.Options{
		HTTP:  tufclient.NewHTTPClient(0), // no overall timeout: StallTimeout bounds each wait
		Token: token, Retries: e.cfg.FetchRetries(), StallTimeout: e.cfg.FetchStallTimeout(), Log: e.log,
		Progress: func(delta int64) {
			if t := s.total.Load(); t > 0 && progress != nil {
				// git's progress line, so that downloadProgress reads both
				fmt.Fprintf(progress, "Receiving objects: %d%%\r", min(100, 100*s.held.Add(delta)/t))
			}
		},
	})
	m, files, err := s.manifest(ctx, tg)
	if err != nil {
		return err
	}
	objs, size, release, err := s.missing(ctx, tg, m)
	if err != nil {
		return err
	}
	tb, hasTarball := s.tarball(tg, m)
	if hasTarball && 2*size > release {
		return s.extract(ctx, tg, staging, m, tb)
	}
	s.total.Store(size)
	err = s.fetch.GetAll(ctx, objs, 0, func(o objfetch.Object) error { return cache.Adopt(o.SHA256) })
	var status *objfetch.StatusError
	if hasTarball && errors.As(err, &status) && status.Code == http.StatusNotFound {
		e.log.WithError(err).Info("the repository serves no objects; extracting the release's tarball")
		return s.extract(ctx, tg, staging, m, tb)
	}
	if errors.Is(err, objfetch.ErrMismatch) {
		return rejectf("%s rejected: %v", tg, err)
	}
	if err != nil {
		return err
	}
	live, err := e.installed()
	if err != nil {
		return err
	}
	return s.place(ctx, staging, m, files, kept(live.manifest))
}

// manifest fetches and checks the signed manifest of tg; files holds the
// manifest and signature files' content, to be written into the tree.
func (s *stager) manifest(ctx context.Context, tg string) (*manifest.Manifest, map[string][]byte, error) {
	data, err := s.small(ctx, tg, tufrepo.ManifestName, manifest.MaxSize)
	if err != nil {
		return nil, nil, err
	}
	sig, err := s.small(ctx, tg, tufrepo.SignatureName, maxSignatureTarget)
	if err != nil {
		return nil, nil, err
	}
	if err := releasepkg.VerifySignature(s.e.cfg.Pubkeys, data, sig); err != nil {
		return nil, nil, fmt.Errorf("%s rejected: %w", tg, err)
	}
	m, err := manifest.Parse(data)
	if err != nil {
		return nil, nil, rejectf("%s rejected: %v", tg, err)
	}
	return m, map[string][]byte{approot.ManifestFile: data, approot.SignatureFile: sig}, nil
}

// missing lists the objects of m the cache lacks, their total size and
// that of the release's objects, refusing a release over max_release_bytes
// before any is requested.
func (s *stager) missing(ctx context.Context, tg string, m *manifest.Manifest) (objs []objfetch.Object, download, release int64, err error) {
	data, err := s.small(ctx, tg, tufrepo.ObjectsName, maxSizesTarget)
	if err != nil {
		return nil, 0, 0, err
	}
	var sizes tufrepo.Sizes
	if err := json.Unmarshal(data, &sizes); err != nil {
		return nil, 0, 0, rejectf("%s rejected: %s: %v", tg, tufrepo.ObjectsName, err)
	}
	seen := map[string]bool{}
	for _, f := range m.Files {
		if f.IsLink() || seen[f.SHA256] {
			continue
		}
		seen[f.SHA256] = true
		size, ok := sizes[f.SHA256]
		if !ok || size < 0 {
			return nil, 0, 0, rejectf("%s rejected: %s lists no size for %s", tg, tufrepo.ObjectsName, f.Path)
		}
		if release += size; release > s.limit() {
			return nil, 0, 0, rejectf("%s rejected: release exceeds max_release_bytes (%d)", tg, s.limit())
		}
		if !s.cache.Has(f.SHA256) {
			download += size
			objs = append(objs, objfetch.Object{
				URL: s.repo.ObjectURL(f.SHA256), Size: size, SHA256: f.SHA256,
				Partial: filepath.Join(s.e.dir, s.cache.PartialPath(f.SHA256)),
			})
		}
	}
	return objs, download, release, nil
}

// limit is max_release_bytes, or the default.
func (s *stager) limit() int64 { return cmp.Or(s.e.cfg.FetchMaxBytes(), fetch.DefaultMaxBytes) }

// small downloads target tg/name, whose TUF length must be at most limit,
// and returns its checked content.
func (s *stager) small(ctx context.Context, tg, name string, limit int64) ([]byte, error) {
	t, err := s.repo.Target(tufrepo.Target(tg, name))
	if errors.Is(err, tufclient.ErrNoTarget) {
		return nil, rejectf("%s rejected: no such release in the repository (%v)", tg, err)
	}
	if err != nil {
		return nil, rejectf("%s rejected: %v", tg, err)
	}
	if t.Length > limit {
		return nil, rejectf("%s rejected: %s is %d bytes, over %d", tg, name, t.Length, limit)
	}
	partial := s.cache.PartialPath(t.SHA256)
	err = s.fetch.Get(ctx, t.URL, t.Length, t.SHA256, filepath.Join(s.e.dir, partial))
	if errors.Is(err, objfetch.ErrMismatch) {
		return nil, rejectf("%s rejected: %v", tg, err)
	}
	if err != nil {
		return nil, err
	}
	defer s.e.root.Remove(partial)
	return safefs.ReadFile(s.e.root, partial, limit)
}
