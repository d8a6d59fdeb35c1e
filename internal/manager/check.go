package manager

import (
	"context"
	"errors"
	"time"

	"github.com/hoist-dev/hoist/internal/discovery"
	"github.com/hoist-dev/hoist/internal/request"
	"github.com/hoist-dev/hoist/internal/rollbackfile"
	"github.com/hoist-dev/hoist/internal/statusfile"
)

// next answers get-update for the installed release and records the check:
// the release to install next, and its rollout's hold when this node is
// not in the rollout yet.
func (s *Server) next(ctx context.Context) (*discovery.Update, *discovery.Phased, error) {
	installed, err := discovery.InstalledVersion(s.root)
	if err != nil {
		return nil, nil, err
	}
	u, err := s.cfg.Finder.NextOn(ctx, installed, s.beta())
	held := discovery.Hold(u, s.nodeID(), time.Now())
	s.met.recordCheck(u, held, err)
	return u, held, err
}

// checkLoop checks for an update at start and every CheckInterval, and with
// AutoUpdate requests it.
func (s *Server) checkLoop(ctx context.Context) {
	if s.cfg.CheckInterval <= 0 {
		return
	}
	// "Failing for over a day" counts from the start until a check succeeds.
	s.met.fleet.lastSuccess.SetToCurrentTime()
	var requested string // the release the last automatic request was for
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		requested = s.autoCheck(ctx, requested)
		t.Reset(s.nextCheckDelay())
	}
}

// autoCheck runs one automatic check and returns the release it requested
// (or requested before).
func (s *Server) autoCheck(ctx context.Context, requested string) string {
	u, held, err := s.next(ctx)
	s.notifyChecked(u, held, err)
	switch {
	case err != nil:
		s.log.WithError(err).Warn("automatic check failed")
		return requested
	case u == nil:
		s.log.Info("automatic check: up to date")
		return requested
	case held != nil:
		s.log.WithFields(map[string]any{"version": held.Version, "percent": held.Percent}).Info("automatic check: a release is rolling out; this node will get it later")
		return requested
	}
	log := s.log.WithField("version", u.Version)
	log.Info("automatic check: update available")
	if !s.ownerAllows(log, u.Version) {
		return requested
	}
	// Requesting again a release whose automatic update failed would repeat
	// the failure every interval; a user can still ask for it.
	if a := s.status.get(); a.err == nil && a.st.State == statusfile.Failed && requested == u.Tag() {
		log.Warn("not requesting again a release whose automatic update failed")
		return requested
	}
	// A release the node rolled back from stays out until a newer one
	// comes or a user asks for it (statuses/rollback.json, written by the
	// engine).
	rb, err := rollbackfile.Read(s.dirs.Statuses)
	if err != nil {
		log.WithError(err).Warn("automatic update: cannot read the rollback state; not requesting")
		return requested
	}
	if rb.WasRolledBackFrom(u.Version) {
		log.Info("automatic update: not requesting a release the node rolled back from")
		return requested
	}
	err = s.requestUpdate(ctx, u.Tag())
	switch {
	case errors.Is(err, request.ErrInProgress):
		log.Info("automatic update: an update is already in progress")
	case err != nil:
		log.WithError(err).Error("automatic update request failed")
	default:
		log.Info("automatic update requested")
		return u.Tag()
	}
	return requested
}
