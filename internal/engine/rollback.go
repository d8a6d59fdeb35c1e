package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/hashicorp/go-version"
	"golang.org/x/sys/unix"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/backup"
	"github.com/hoist-dev/hoist/internal/install"
	"github.com/hoist-dev/hoist/internal/manifest"
	"github.com/hoist-dev/hoist/internal/tag"
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
	// Its manifest is read now, before the rollback replaces it, but only
	// the check at the end uses it.
	v, liveData, err := e.readInstalled()
	if err != nil {
		return "", err
	}
	if v == nil {
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
	if b.Index.To != v.String() {
		// The backup holds the paths the update to b.Index.To changed;
		// applied to another release it would make a mix.
		return "", fmt.Errorf("the newest backup (v%s) was taken when v%s was installed, but %s is installed; not rolling back",
			b.Index.Version, b.Index.To, tag.Of(v))
	}
	restored := e.keptRelease(b)
	live := parseLater(v, liveData, restored) // 01-run.sh needs restored first
	tg := "v" + b.Index.Version
	st := e.newReporter(tg)
	t, err := e.beginTxn(record{Op: opRollback, From: v.String(), To: b.Index.Version, Backup: b.Dir}, st)
	if err != nil {
		return "", err
	}
	defer t.close()
	st.enter(bandStart, "Rolling back to "+tg)
	r := &rollbackRun{txn: t, kept: b, restored: restored}
	if err := r.run(ctx); err != nil {
		return "", t.abort(ctx, err)
	}
	// The check only logs: it runs while the commit waits for the disk
	// (it reads no file the commit changes), and the status says success
	// without waiting for it.
	checked := make(chan struct{})
	go func() {
		defer close(checked)
		e.checkRestored(ctx, b.Index, live, r.restored)
	}()
	desc, err := t.commit("")
	<-checked
	return desc, err
}

// run runs the steps of a rollback after begin; each journals its steps.
func (r *rollbackRun) run(ctx context.Context) error {
	return steps(ctx,
		r.backup, // backup, backed-up
		r.install(bandInstall, "Restoring the files of v"+r.begin.To, r.restore), // install, installed
		r.script(1, "", bandScript01.through(bandScript03)),
	)
}

// rollbackRun is what the steps of a rollback share: the kept backup, and
// the release it restores.
type rollbackRun struct {
	*txn
	kept     backup.Kept
	restored *laterRelease // nil until the files are back, if keptRelease could not read it
}

// backup saves the live state of the paths the kept backup restores.
func (r *rollbackRun) backup(ctx context.Context) error {
	r.st.enter(bandBackup, "Saving v"+r.begin.From+" before rolling back")
	before, err := statAll(ctx, r.e.root, r.kept.Index.Nodes)
	if err != nil {
		return err
	}
	return r.capture(ctx, before, time.Time{})
}

// restore puts the kept backup's paths back; its 01-run.sh and the check
// at the end look the restored release up in its manifest.
func (r *rollbackRun) restore(ctx context.Context, progress func(done, total int)) error {
	if err := backup.Restore(ctx, r.e.root, r.kept.Dir, r.kept.Index, false, progress); err != nil {
		return err
	}
	if r.restored == nil {
		r.restored = r.e.installedLater()
	}
	r.listed = func() (*manifest.Manifest, error) {
		rel, err := r.restored.wait()
		return rel.manifest, err
	}
	return nil
}

// laterRelease is a release whose manifest is parsed by a goroutine. A
// rollback needs manifests only for 01-run.sh and the check at its end,
// and a parse of 2,000 entries (11–14 ms) would otherwise wait in line
// with the fsyncs, during which the other core is idle.
type laterRelease struct {
	done chan struct{} // closed when rel and err are set
	rel  release
	err  error
}

// installedLater reads the live release's files now and parses its
// manifest in the background; wait returns a read error.
func (e *Engine) installedLater() *laterRelease {
	v, data, err := e.readInstalled()
	if err != nil {
		l := &laterRelease{done: make(chan struct{}), err: err}
		close(l.done)
		return l
	}
	return parseLater(v, data, nil)
}

// keptRelease is the release the kept backup b restores, its manifest read
// from the backup (checked to be the bytes Restore puts back) and parsed
// in the background from now on: by the time 01-run.sh needs it, after
// the restore, it is ready. nil when the backup does not save a manifest
// it can give.
func (e *Engine) keptRelease(b backup.Kept) *laterRelease {
	v, err := tag.Parse("v" + b.Index.Version)
	if err != nil {
		return nil
	}
	data, err := backup.ReadSaved(e.root, b.Dir, b.Index, approot.ManifestFile, manifest.MaxSize)
	if err != nil {
		return nil
	}
	return parseLater(v, data, nil)
}

// parseLater returns release v, whose manifest data (nil: it has none) a
// goroutine parses once after, if set, is parsed: one core parses, the
// other keeps on with the rollback.
func parseLater(v *version.Version, data []byte, after *laterRelease) *laterRelease {
	l := &laterRelease{done: make(chan struct{}), rel: release{version: v}}
	if data == nil {
		close(l.done)
		return l
	}
	go func() {
		defer close(l.done)
		if after != nil {
			<-after.done
		}
		l.rel, l.err = parseInstalled(v, data)
	}()
	return l
}

// wait returns the release once its manifest is parsed.
func (l *laterRelease) wait() (release, error) {
	<-l.done
	return l.rel, l.err
}

// checkRestored logs the files of the restored release that differ from
// its manifest. The paths the update had changed were just restored from
// idx, whose content Restore checked, so they are compared by the index
// alone: a difference there was already on disk when the update saved
// them. The files the update never touched are hashed, as someone may
// have changed them since, except those provably unchanged: listed alike
// by from, the release rolled back from, and with an inode last changed
// before the update compared them (idx.Compared) and found them as listed.
func (e *Engine) checkRestored(ctx context.Context, idx backup.Index, from, to *laterRelease) {
	in, err := readInfo(e.root, approot.InfoFile)
	live, perr := to.wait()
	if err = cmp.Or(err, perr); err != nil || live.manifest == nil || in.Version != idx.Version {
		e.log.WithError(err).Warnf("the restored release is not v%s as expected", idx.Version)
		return
	}
	restored := make(map[string]install.Node, len(idx.Nodes))
	for _, n := range idx.Nodes {
		restored[n.Path] = n
	}
	prev, _ := from.wait() // no manifest: every untouched file is hashed
	untouched := &manifest.Manifest{Version: live.manifest.Version}
	var problems []manifest.Problem
	tree := install.NewTree(e.root)
	defer tree.Close()
	for _, f := range live.manifest.Files {
		n, ok := restored[f.Path]
		switch {
		case !ok && !unchangedSince(tree, f, prev.manifest, idx.Compared):
			untouched.Files = append(untouched.Files, f)
		case ok && !install.Same(n, nodeOf(f)):
			problems = append(problems, manifest.Problem{Path: f.Path, Reason: "differed already before the update"})
		}
	}
	changed, err := manifest.Diff(ctx, e.root, untouched)
	if err != nil {
		e.log.WithError(err).Warn("could not compare the restored release with its manifest")
	}
	for _, p := range append(problems, changed...) {
		e.log.Warnf("restored release differs from its manifest: %s", p)
	}
}

// ctimeSlack covers the coarse clock that stamps inode change times (one
// kernel tick, at most 10 ms) many times over.
const ctimeSlack = 100 * time.Millisecond

// unchangedSince reports whether the regular file f, listed alike by prev,
// is in the live tree a file of f's mode whose inode has not changed since
// compared: it then still has the content it had when compared with
// prev's entry.
func unchangedSince(live *install.Tree, f manifest.Entry, prev *manifest.Manifest, compared time.Time) bool {
	if compared.IsZero() || prev == nil || f.IsLink() {
		return false
	}
	if p, ok := prev.Lookup(f.Path); !ok || p != f {
		return false
	}
	st, err := live.Lstat(f.Path)
	if err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || fs.FileMode(st.Mode&0o7777) != f.Perm() {
		return false
	}
	return time.Unix(st.Ctim.Unix()).Before(compared.Add(-ctimeSlack))
}
