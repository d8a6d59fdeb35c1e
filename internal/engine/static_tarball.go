package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/hoist-dev/hoist/internal/manifest"
	"github.com/hoist-dev/hoist/internal/objfetch"
	"github.com/hoist-dev/hoist/internal/safefs"
	"github.com/hoist-dev/hoist/internal/tarball"
	"github.com/hoist-dev/hoist/internal/tufclient"
	"github.com/hoist-dev/hoist/internal/tufrepo"
)

// errExtractStopped marks a download that ended because the extraction
// reading it had failed: the extraction's error is the one to report.
var errExtractStopped = errors.New("the extraction stopped")

// tarball returns the tarball target of release tg, if it has one.
func (s *stager) tarball(tg string, m *manifest.Manifest) (tufclient.Target, bool) {
	t, err := s.repo.Target(tufrepo.Target(tg, tufrepo.TarballName(m.App)))
	return t, err == nil
}

// extract stages the release from its tarball target t, every entry
// checked against the signed manifest m as it is written (tarball.Extract).
// The extraction runs as the tarball downloads into a partial file, which
// a killed run resumes with Range. Nothing of it counts before the whole
// tarball has its TUF length and sha256: Extract reads its stream to the
// end, which comes only after Stream's check, and removes all it wrote on
// any error. A download that starts again from byte 0 (a server without
// Range, a torn partial file) is finished first and extracted after.
func (s *stager) extract(ctx context.Context, tg, staging string, m *manifest.Manifest, t tufclient.Target) error {
	s.held.Store(0)
	s.total.Store(t.Length)
	dir, err := s.openStaging(staging)
	if err != nil {
		return err
	}
	defer dir.Close()
	partial := s.cache.PartialPath(t.SHA256)
	err = s.stream(ctx, dir, m, t, filepath.Join(s.e.dir, partial))
	if errors.Is(err, objfetch.ErrRewound) {
		s.e.log.Info("the tarball's download started again from its first byte; extracting it once downloaded")
		err = s.extractFile(ctx, dir, m, t, partial)
	}
	rejected := errors.Is(err, objfetch.ErrMismatch) || errors.Is(err, tarball.ErrInvalid) || errors.Is(err, tarball.ErrTooLarge)
	if err == nil || rejected {
		if rerr := s.e.root.Remove(partial); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}
	if rejected {
		return rejectf("%s rejected: %v", tg, err)
	}
	if err != nil {
		return err // the partial file stays, for the next run to resume
	}
	return safefs.SyncFS(dir)
}

// stream downloads t into the file partial and, through a pipe, into
// tarball.Extract writing into dir. An extraction that fails on its own
// stops the download, which may be waiting for the server, and its error
// is the one returned; one that fails because the download did returns
// the download's.
func (s *stager) stream(ctx context.Context, dir *os.Root, m *manifest.Manifest, t tufclient.Target, partial string) error {
	pr, pw := io.Pipe()
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var downloaded atomic.Bool
	extracted := make(chan error, 1)
	go func() {
		err := tarball.Extract(ctx, pr, s.limit(), dir, m)
		if err != nil && !downloaded.Load() {
			stopped := fmt.Errorf("%w: %w", errExtractStopped, err)
			pr.CloseWithError(stopped)
			cancel(stopped)
		}
		extracted <- err
	}()
	err := s.fetch.Stream(sctx, t.URL, t.Length, t.SHA256, partial, pw)
	downloaded.Store(true)
	pw.CloseWithError(err) // nil: the end of the tarball, for Extract
	xerr := <-extracted
	if xerr != nil && (err == nil || errors.Is(context.Cause(sctx), errExtractStopped)) {
		return xerr
	}
	// A failed download failed the extraction too, which removed its work.
	return err
}

// extractFile finishes the download of t into partial, then extracts it.
func (s *stager) extractFile(ctx context.Context, dir *os.Root, m *manifest.Manifest, t tufclient.Target, partial string) error {
	if err := s.fetch.Get(ctx, t.URL, t.Length, t.SHA256, filepath.Join(s.e.dir, partial)); err != nil {
		return err
	}
	f, err := s.e.root.Open(partial)
	if err != nil {
		return err
	}
	defer f.Close()
	return tarball.Extract(ctx, f, s.limit(), dir, m)
}
