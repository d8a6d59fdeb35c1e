package manager

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hoist-dev/hoist/internal/discovery"
	"github.com/hoist-dev/hoist/internal/notify"
	"github.com/hoist-dev/hoist/internal/rollbackfile"
	"github.com/hoist-dev/hoist/internal/settings"
)

const (
	settingsPath = "/v1/system/settings"
	// maxSettingsBody fits settings.MaxNotify URLs of the longest length.
	maxSettingsBody = 64 << 10
)

// bodyCap is the request body cap of route rt.
func bodyCap(rt route) int64 {
	if rt.pattern == settingsPath {
		return maxSettingsBody
	}
	return maxBody
}

// prefs is the Server's side of the owner's settings.
type prefs struct {
	mu sync.Mutex // serialises read-modify-write of the file by PUTs
	// nextCheck is when the automatic check runs next (Unix ns; 0: no
	// check loop), for get-update's next_auto_update.
	nextCheck atomic.Int64
	// changed wakes the check loop (one pending wake is enough): a new
	// channel, window or auto-update changes what a check finds or does.
	changed chan struct{}
}

func newPrefs() *prefs { return &prefs{changed: make(chan struct{}, 1)} }

// wake tells the check loop that the settings changed.
func (p *prefs) wake() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// settings reads the owner's settings; the --auto-update flag is the
// default of a node that has none yet.
func (s *Server) settings() (settings.Settings, error) {
	return settings.Load(s.dirs.Statuses, settings.Defaults(s.cfg.AutoUpdate))
}

// settingsRoute serves GET and PUT on one path (a route has one method).
func (s *Server) settingsRoute(w http.ResponseWriter, r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return s.getSettings(w, r)
	case http.MethodPut:
		return s.putSettings(w, r)
	}
	w.Header().Set("Allow", "GET, HEAD, PUT")
	return httpErrorf(http.StatusMethodNotAllowed, "method %s not allowed; use GET or PUT", r.Method)
}

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request) error {
	st, err := s.settings()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st.Redacted())
	return nil
}

// putSettings replaces the keys given; a refused body changes nothing.
func (s *Server) putSettings(w http.ResponseWriter, r *http.Request) error {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	s.prefs.mu.Lock()
	defer s.prefs.mu.Unlock()
	cur, err := s.settings()
	if err != nil {
		return err
	}
	next, err := cur.Apply(data)
	if errors.Is(err, settings.ErrInvalid) {
		// Its message names the key and never repeats a URL.
		return &httpError{code: http.StatusBadRequest, msg: err.Error()}
	}
	if err != nil {
		return err
	}
	for i, u := range next.Notify {
		if err := notify.CheckService(u); err != nil {
			return httpErrorf(http.StatusBadRequest, "%v: notify entry %d: %v", settings.ErrInvalid, i+1, err)
		}
	}
	if err := settings.Save(s.dirs.Statuses, next); err != nil {
		return err
	}
	s.log.WithFields(map[string]any{
		"auto_update": next.AutoUpdate, "window": next.Window.String(), "channel": next.Channel,
		"skip": next.Skip, "notify": len(next.Notify),
	}).Info("settings changed")
	s.prefs.wake()
	writeJSON(w, http.StatusOK, next.Redacted())
	return nil
}

// updateAnswer is get-update's answer when a release is offered, with when
// an automatic update may start (absent when auto-update is off).
type updateAnswer struct {
	*discovery.Update
	NextAutoUpdate string `json:"next_auto_update,omitempty"`
}

// channel is the owner's release channel; settings that cannot be read
// mean stable, which never installs what was not asked for.
func (s *Server) channel() string {
	if st, err := s.settings(); err == nil {
		return st.Channel
	}
	return settings.Stable
}

// beta reports whether the owner chose the beta channel.
func (s *Server) beta() bool { return s.channel() == settings.Beta }

// ownerAllows reports whether the owner's settings let the automatic check
// request version now, and logs why not.
func (s *Server) ownerAllows(log *logrus.Entry, version string) bool {
	st, err := s.settings()
	switch {
	case err != nil:
		log.WithError(err).Warn("automatic update: cannot read the settings; not requesting")
		return false
	case !st.AutoUpdate:
		return false
	case st.Skips(version):
		log.Info("automatic update: the owner skips this release")
		return false
	case !st.Window.Contains(time.Now()):
		log.WithField("window", st.Window.String()).Info("automatic update: waiting for the update window")
		return false
	}
	return true
}

// declined reports whether automatic updates pass over version: the owner
// skipped it, or the node rolled back from it (statuses/rollback.json,
// written by the engine). Either stays out until a newer release comes or
// a user asks for it.
func (s *Server) declined(st settings.Settings, version string) (bool, error) {
	if st.Skips(version) {
		return true, nil
	}
	rb, err := rollbackfile.Read(s.dirs.Statuses)
	if err != nil {
		return false, err
	}
	return rb.WasRolledBackFrom(version), nil
}

// nextAutoUpdate is when the automatic update to version may start: the
// first automatic check inside the window; "" when none will request it.
func (s *Server) nextAutoUpdate(version string, now time.Time) (string, error) {
	next := s.prefs.nextCheck.Load()
	if next == 0 {
		return "", nil
	}
	st, err := s.settings()
	if err != nil {
		return "", err
	}
	declined, err := s.declined(st, version)
	if !st.AutoUpdate || declined || err != nil {
		return "", err
	}
	at := time.Unix(0, next)
	if at.Before(now) {
		at = now
	}
	return st.Window.Next(at.Local()).Format(time.RFC3339), nil
}

// adjustCheckDelay is the check loop's wait d before its next check,
// shortened to the opening of the owner's update window when automatic
// updates wait for it; it records when that check comes for nextAutoUpdate.
func (s *Server) adjustCheckDelay(d time.Duration) time.Duration {
	if st, err := s.settings(); err == nil {
		d = checkDelay(d, st, time.Now())
	}
	s.prefs.nextCheck.Store(time.Now().Add(d).UnixNano())
	return d
}

// checkDelay is how long the check loop waits after a check at now: its
// wait (the interval, jittered or backed off), shortened to the opening of the window when automatic
// updates wait for it.
func checkDelay(wait time.Duration, st settings.Settings, now time.Time) time.Duration {
	if !st.AutoUpdate || st.Window.IsZero() || st.Window.Contains(now) {
		return wait
	}
	return min(wait, st.Window.Next(now).Sub(now))
}
