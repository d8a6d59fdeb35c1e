package engine

import (
	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/backup"
	"github.com/hoist-dev/hoist/internal/rollbackfile"
)

// publishRollback writes statuses/rollback.json for the manager: the kept
// backups, and the versions rolled back from as note changes them. It runs
// after every transaction, like publishInfo.
func (e *Engine) publishRollback(note func(*rollbackfile.State)) error {
	s, err := rollbackfile.Read(e.statuses)
	if err != nil {
		e.log.WithError(err).Warn("rollback state unreadable; writing it afresh")
		s = rollbackfile.State{}
	}
	kept, _, err := backup.List(e.root, approot.BackupsDir)
	if err != nil {
		return err
	}
	s.Backups = nil
	for _, k := range kept {
		if k.Index.Version != "" {
			s.Backups = append(s.Backups, k.Index.Version)
		}
	}
	note(&s)
	return rollbackfile.Write(e.statuses, s)
}

// noteOutcome is the publishRollback note of transaction t: a rollback
// notes the release it left, an update undone after its install notes the
// release it tried, and a successful update clears its release.
func (t *txn) noteOutcome(succeeded bool) func(*rollbackfile.State) {
	return func(s *rollbackfile.State) {
		switch {
		case succeeded && t.begin.Op == opRollback:
			s.NoteRolledBackFrom(t.begin.From)
		case succeeded:
			s.Installed(t.begin.To)
		case t.begin.Op == opApply && t.changed():
			s.NoteRolledBackFrom(t.begin.To)
		}
	}
}
