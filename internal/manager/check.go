package manager

import (
	"context"
	crand "crypto/rand"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/hoist-dev/hoist/internal/checkloop"
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

// checkLoop checks for an update every CheckInterval, politely (package
// checkloop: a random first delay, jitter, backoff, Retry-After), and at
// once after a settings change; with AutoUpdate it requests the update.
func (s *Server) checkLoop(ctx context.Context) {
	if s.cfg.CheckInterval <= 0 {
		return
	}
	// "Failing for over a day" counts from the start until a check succeeds.
	s.met.fleet.lastSuccess.SetToCurrentTime()
	var requested string // the release the last automatic request was for
	checkloop.Loop{
		Schedule: checkloop.Schedule{Interval: s.cfg.CheckInterval, Rand: newRand()},
		Clock:    checkloop.System{},
		Check: func(ctx context.Context) error {
			var err error
			requested, err = s.autoCheck(ctx, requested)
			return err
		},
		Adjust: s.adjustCheckDelay,
		Wake:   s.prefs.changed,
		Failed: func(err error, wait time.Duration) {
			s.log.WithError(err).WithField("retry_in", wait.Round(time.Second).String()).Warn("automatic check failed")
		},
	}.Run(ctx)
}

// newRand returns a generator seeded from the system's randomness, so that
// nodes started together draw different delays.
func newRand() *rand.Rand {
	var seed [32]byte
	crand.Read(seed[:]) // never fails (crypto/rand)
	return rand.New(rand.NewChaCha8(seed))
}

// autoCheck runs one automatic check and returns the release it requested
// (or requested before), and the check's error: a failure to reach the
// release repository, which makes the loop back off.
func (s *Server) autoCheck(ctx context.Context, requested string) (string, error) {
	u, held, err := s.next(ctx)
	s.notifyChecked(u, held, err)
	switch {
	case err != nil:
		return requested, err
	case u == nil:
		s.log.Info("automatic check: up to date")
		return requested, nil
	case held != nil:
		s.log.WithFields(map[string]any{"version": held.Version, "percent": held.Percent}).Info("automatic check: a release is rolling out; this node will get it later")
		return requested, nil
	}
	log := s.log.WithField("version", u.Version)
	log.Info("automatic check: update available")
	if !s.ownerAllows(log, u.Version) {
		return requested, nil
	}
	// Requesting again a release whose automatic update failed would repeat
	// the failure every interval; a user can still ask for it.
	if a := s.status.get(); a.err == nil && a.st.State == statusfile.Failed && requested == u.Tag() {
		log.Warn("not requesting again a release whose automatic update failed")
		return requested, nil
	}
	// A release the node rolled back from stays out until a newer one
	// comes or a user asks for it (statuses/rollback.json, written by the
	// engine).
	rb, err := rollbackfile.Read(s.dirs.Statuses)
	if err != nil {
		log.WithError(err).Warn("automatic update: cannot read the rollback state; not requesting")
		return requested, nil
	}
	if rb.WasRolledBackFrom(u.Version) {
		log.Info("automatic update: not requesting a release the node rolled back from")
		return requested, nil
	}
	err = s.requestUpdate(ctx, u.Tag())
	switch {
	case errors.Is(err, request.ErrInProgress):
		log.Info("automatic update: an update is already in progress")
	case err != nil:
		log.WithError(err).Error("automatic update request failed")
	default:
		log.Info("automatic update requested")
		return u.Tag(), nil
	}
	return requested, nil
}
