package manager

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/discovery"
	"github.com/hoist-dev/hoist/internal/notify"
	"github.com/hoist-dev/hoist/internal/safefs"
	"github.com/hoist-dev/hoist/internal/statusfile"
)

// notifications is the Server's side of notify.
type notifications struct {
	*notify.Notifier
	targets atomic.Pointer[[]string] // the notification URLs last read from the settings
	// checks hands the automatic check's latest result to watchNotify, so
	// the check loop never waits for the outbox to be written.
	checks chan checkResult
}

// checkResult is an automatic check's result: the version to install next
// ("" if none), or its error.
type checkResult struct {
	available string
	err       error
}

func newNotifications(n *notify.Notifier) *notifications {
	return &notifications{Notifier: n, checks: make(chan checkResult, 1)}
}

// notifyTargets returns the notification URLs of the owner's settings.
// When the settings cannot be read it returns the last ones read: an empty
// list would drop every pending delivery as meant for a removed target.
func (s *Server) notifyTargets() []string {
	st, err := s.settings()
	if err != nil {
		s.log.WithError(err).Warn("notifications: cannot read the settings; using the targets read before")
		if last := s.notify.targets.Load(); last != nil {
			return *last
		}
		return nil
	}
	s.notify.targets.Store(&st.Notify)
	return st.Notify
}

// maxReportHead caps what is read of the failure report to name the
// failing script: its "name: value" lines come first.
const maxReportHead = 16 << 10

// watchNotify starts reporting every status change and automatic check to
// the notifier until ctx ends, through a subscription to the hub that
// leaves every event stream to the clients.
func (s *Server) watchNotify(ctx context.Context, wg *sync.WaitGroup) {
	ch, cancel, _ := s.status.hub.subscribe(false) // always granted
	wg.Go(func() {
		defer cancel()
		// After subscribing, so no change falls between the two.
		if a := s.status.get(); a.err == nil {
			s.observe(a.st)
		}
		for {
			select {
			case <-ctx.Done():
				return
			case st := <-ch:
				s.observe(st)
			case c := <-s.notify.checks:
				s.notify.Checked(c.available, c.err)
			}
		}
	})
}

// observe reports status st and the installed version, and for a failure
// the head of the failure report, which names the failing script.
func (s *Server) observe(st statusfile.Status) {
	v, err := discovery.InstalledVersion(s.root)
	if err != nil {
		s.log.WithError(err).Warn("notifications: cannot read the installed version; this status change is not told")
		return
	}
	installed := "" // nothing installed
	if v != nil {
		installed = v.String()
	}
	var report []byte
	if st.State == statusfile.Failed {
		report = s.reportHead()
	}
	s.notify.Observe(notify.NewObservation(st, installed, report))
}

// reportHead returns the start of the failure report, or nil.
func (s *Server) reportHead() []byte {
	f, err := safefs.OpenRegular(s.root, approot.StatusFailureCopy)
	if err != nil {
		return nil
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxReportHead))
	if err != nil {
		return nil
	}
	return data
}

// notifyChecked reports an automatic check without waiting: a result not
// taken yet is replaced by the newer one. A release held back by its
// rollout is not available to this node yet.
func (s *Server) notifyChecked(u *discovery.Update, held *discovery.Phased, err error) {
	c := checkResult{err: err}
	if u != nil && held == nil {
		c.available = u.Version
	}
	for {
		select {
		case s.notify.checks <- c:
			return
		default:
		}
		select {
		case <-s.notify.checks: // drop the older result
		default:
		}
	}
}

// notifyTest sends a test message to every notification target and
// answers each one's result, its URL redacted.
func (s *Server) notifyTest(w http.ResponseWriter, r *http.Request) error {
	res, err := s.notify.Test(r.Context())
	if errors.Is(err, notify.ErrNoTargets) {
		return httpErrorf(http.StatusConflict, "no notification targets are set")
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": res})
	return nil
}
