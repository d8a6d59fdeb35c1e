package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/backup"
	"github.com/hoist-dev/hoist/internal/manifest"
)

// ErrNoBackup means there is no kept backup to roll back to.
var ErrNoBackup = errors.New("no backup to roll back to")

// Rollback puts back the newest kept backup: the release installed before
// the last update, byte for byte, then runs its 01-run.sh. It is a
// transaction like Apply: a failure or crash restores the release that was
// live when it started. The backup is used up.
func (e *Engine) Rollback(ctx context.Context) (string, error) {
	l, err := e.lockSettled(ctx)
	if err != nil {
		return "", err
	}
	defer l.Release()
	live, err := e.installed()
	if err != nil {
		return "", err
	}
	if live.version == nil {
		return "", errors.New("no release is installed")
	}
	kept, _, err := backup.List(e.root, approot.BackupsDir)
	if err != nil {
		return "", err
	}
	if len(kept) == 0 {
		return "", ErrNoBackup
	}
	b := kept[0]
	if b.Index.To != live.version.String() {
		// The backup holds the paths the update to b.Index.To changed;
		// applied to another release it would make a mix.
		return "", fmt.Errorf("the newest backup (v%s) was taken when v%s was installed, but %s is installed; not rolling back",
			b.Index.Version, b.Index.To, live.tag())
	}
	tg := "v" + b.Index.Version
	st := e.newReporter(tg)
	t, err := e.beginTxn(record{Op: opRollback, From: live.version.String(), To: b.Index.Version, Backup: b.Dir}, st)
	if err != nil {
		return "", err
	}
	defer t.close()
	st.progress(pctStart, "Rolling back to "+tg)
	if err := t.rollback(ctx, b); err != nil {
		return "", t.abort(ctx, err)
	}
	return t.commit("")
}

func (t *txn) rollback(ctx context.Context, b backup.Kept) error {
	e, st := t.e, t.st
	st.progress(pctBackup, "Saving v"+t.begin.From+" before rolling back")
	before, err := statAll(ctx, e.root, b.Index.Nodes)
	if err != nil {
		return err
	}
	if err := t.capture(ctx, before); err != nil {
		return err
	}
	if err := t.step(StepInstall); err != nil {
		return err
	}
	st.progress(pctInstall, "Restoring the files of v"+t.begin.To)
	progress := st.count(pctInstall, 14, "Restoring the files of v"+t.begin.To)
	if err := backup.Restore(ctx, e.root, b.Dir, b.Index, false, progress); err != nil {
		return err
	}
	if err := t.step(StepInstalled); err != nil {
		return err
	}
	e.checkRestored(ctx, t.begin.To)
	return t.runScript(ctx, 1, "", pct01, 3*pctScript)
}

// checkRestored logs files of the restored release that differ from its
// manifest: ones the update never touched but someone changed since.
func (e *Engine) checkRestored(ctx context.Context, want string) {
	live, err := e.installed()
	if err != nil || live.manifest == nil || live.version.String() != want {
		e.log.WithError(err).Warnf("the restored release is not v%s as expected", want)
		return
	}
	problems, err := manifest.Diff(ctx, e.root, live.manifest)
	if err != nil {
		e.log.WithError(err).Warn("could not compare the restored release with its manifest")
	}
	for _, p := range problems {
		e.log.Warnf("restored release differs from its manifest: %s", p)
	}
}
