package manager

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/discovery"
	"github.com/hoist-dev/hoist/internal/request"
	"github.com/hoist-dev/hoist/internal/rollbackfile"
	"github.com/hoist-dev/hoist/internal/safefs"
)

// maxLog caps the failure report served; the tail is kept, as the end of a
// report says what failed last.
const maxLog = 1 << 20

func (s *Server) info(w http.ResponseWriter, r *http.Request) error {
	_, raw, err := discovery.Installed(s.root)
	if errors.Is(err, discovery.ErrNotInstalled) {
		return httpErrorf(http.StatusNotFound, "no release installed")
	}
	if err != nil {
		return err
	}
	body, err := infoAnswer(raw, s.nodeID())
	if err != nil {
		return err
	}
	writeBody(w, http.StatusOK, body)
	return nil
}

func (s *Server) getUpdate(w http.ResponseWriter, r *http.Request) error {
	u, held, err := s.next(r.Context())
	if err != nil {
		return err
	}
	if u == nil || held != nil {
		writeJSON(w, http.StatusOK, discovery.Answer(u, held))
		return nil
	}
	next, err := s.nextAutoUpdate(u.Version, time.Now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, updateAnswer{Update: u, NextAutoUpdate: next})
	return nil
}

// updateBody is POST /v1/system/update's optional body.
type updateBody struct {
	Version string `json:"version"`
}

func (s *Server) update(w http.ResponseWriter, r *http.Request) error {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	var body updateBody
	if len(bytes.TrimSpace(data)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil || dec.More() {
			return httpErrorf(http.StatusBadRequest, `body must be empty or {"version":"vX.Y.Z"}`)
		}
	}
	want := body.Version
	if want != "" && !strings.HasPrefix(want, "v") {
		want = "v" + want // accept get-update's "version" as it is
	}
	// Answer 409 before asking the repository, which may be slow or down.
	if err := request.Busy(s.dirs); err != nil {
		return err
	}
	installed, err := discovery.InstalledVersion(s.root)
	if err != nil {
		return err
	}
	target, err := s.cfg.Finder.TargetOn(r.Context(), installed, want, s.beta())
	if err != nil {
		return err
	}
	if err := s.requestUpdate(r.Context(), target); err != nil {
		return err
	}
	s.log.WithField("to", target).Info("update requested")
	writeJSON(w, http.StatusOK, map[string]string{"message": "Updating to " + target})
	return nil
}

func (s *Server) updateStatus(w http.ResponseWriter, r *http.Request) error {
	a := s.status.get()
	if a.err != nil {
		return a.err
	}
	writeBody(w, http.StatusOK, a.body)
	return nil
}

func (s *Server) updateLog(w http.ResponseWriter, r *http.Request) error {
	f, err := safefs.OpenRegular(s.root, approot.StatusFailureCopy)
	if errors.Is(err, fs.ErrNotExist) {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return serveTail(w, f, maxLog)
}

func (s *Server) rollback(w http.ResponseWriter, r *http.Request) error {
	rb, err := rollbackfile.Read(s.dirs.Statuses)
	if err != nil {
		return err
	}
	if len(rb.Backups) == 0 {
		return errNoBackup
	}
	if err := request.Rollback(r.Context(), s.dirs); err != nil {
		return err
	}
	s.log.Info("rollback requested")
	writeJSON(w, http.StatusAccepted, map[string]string{"message": "Rolling back"})
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	if a := s.status.get(); a.err != nil {
		return fmt.Errorf("health: %w", a.err)
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
