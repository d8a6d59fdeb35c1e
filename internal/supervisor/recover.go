package supervisor

import (
	"os/exec"
	"path/filepath"

	"github.com/sirupsen/logrus"
)

// recover runs `hoist recover` so that an update interrupted by a crash is
// finished or undone before new signals are served. Its failure is logged,
// not fatal: the supervisor must keep serving rollbacks and new updates.
func (s *supervisor) recover() {
	log := logrus.NewEntry(s.log)
	hoist, err := s.hoistBinary()
	if err != nil {
		log.WithError(err).Error("cannot run hoist recover; continuing without")
		return
	}
	log.WithField("path", hoist).Info("running hoist recover")
	if err := s.runProcess(log, "hoist recover", hoist, []string{"recover", "--root", s.opt.Root}); err != nil {
		log.WithError(err).Error("hoist recover failed; continuing")
		return
	}
	log.Info("hoist recover finished")
}

// hoistBinary finds `hoist` next to the supervisor, else on PATH.
func (s *supervisor) hoistBinary() (string, error) {
	if s.opt.BinDir != "" {
		if p, err := exec.LookPath(filepath.Join(s.opt.BinDir, "hoist")); err == nil {
			return p, nil
		}
	}
	return exec.LookPath("hoist")
}
