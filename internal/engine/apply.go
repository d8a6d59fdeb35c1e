package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hashicorp/go-version"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/backup"
	"github.com/hoist-dev/hoist/internal/clip"
	"github.com/hoist-dev/hoist/internal/install"
	"github.com/hoist-dev/hoist/internal/manifest"
	releasepkg "github.com/hoist-dev/hoist/internal/release"
)

// ApplyOptions say what to install.
type ApplyOptions struct {
	// To is the release tag to install; empty means updateTo of the status
	// file, which the manager wrote.
	To             string
	AllowDowngrade bool
}

// Apply installs a release (CONTRACT §5) and returns a one-line summary.
// A bad --to is a usage error (exit 2); a bad updateTo in the status file
// is a rejected request (exit 4) and is reported in the status file.
func (e *Engine) Apply(ctx context.Context, opts ApplyOptions) (string, error) {
	tg, v, fromStatus, targetErr := e.target(opts.To)
	if targetErr != nil && !fromStatus {
		return "", targetErr
	}
	l, err := e.lockSettled(ctx)
	if err != nil {
		return "", err
	}
	defer l.Release()
	if targetErr != nil {
		return "", e.refuse(targetErr)
	}
	live, err := e.installed()
	if err != nil {
		return "", e.refuse(err)
	}
	if err := checkVersion(live, v, opts.AllowDowngrade); err != nil {
		return "", e.refuse(err)
	}
	staging := approot.StagingDir(tg)
	if err := e.preflight(live, staging); err != nil {
		return "", e.refuse(err)
	}

	st := e.newReporter(tg)
	t, err := e.beginTxn(record{Op: opApply, From: versionString(live.version), To: v.String(), Staging: staging}, st)
	if err != nil {
		return "", e.refuse(err)
	}
	defer t.close()
	st.enter(bandStart, "Preparing the update to "+tg)
	m, err := t.apply(ctx, live)
	if err != nil {
		return "", t.abort(ctx, err)
	}
	desc, err := t.commit("")
	if err == nil {
		e.pruneStore(ctx, tg)
		e.updateCache(ctx, m)
	}
	return desc, err
}

// apply runs the steps of an update after begin, in the order doc.go lists
// them; each journals its steps. It returns the verified manifest.
func (t *txn) apply(ctx context.Context, live release) (*manifest.Manifest, error) {
	u := &update{txn: t, live: live, tag: "v" + t.begin.To}
	defer u.closeStaging()
	t.listed = func() (*manifest.Manifest, error) { return u.m, nil } // verified before any script runs
	err := steps(ctx,
		u.fetch,  // fetched
		u.verify, // verified
		t.script(0, t.begin.Staging, bandScript00.span()), // from the staging clone
		u.backup, // backup, backed-up
		t.install(bandInstall, "Installing files", u.put), // install, installed
		t.script(1, "", bandScript01.span()),
		t.script(2, "", bandScript02.span()),
		t.script(3, "", bandScript03.span()),
	)
	return u.m, err
}

// steps runs each step in turn, up to the first that fails.
func steps(ctx context.Context, steps ...func(context.Context) error) error {
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// update is what the steps of an apply hand on to each other.
type update struct {
	*txn
	live    release
	tag     string             // the release being installed: "v1.1.0"
	m       *manifest.Manifest // its verified manifest
	staging *os.Root           // its verified staging clone
	want    []install.Node     // what the live root must become
}

func (u *update) closeStaging() {
	if u.staging != nil {
		u.staging.Close()
	}
}

// fetch makes the staging clone, reusing one an earlier attempt left if it
// verifies, and journals fetched.
func (u *update) fetch(ctx context.Context) error {
	e, dir := u.e, u.begin.Staging
	u.st.enter(bandDownload, "Downloading "+u.tag)
	if _, err := e.root.Lstat(dir); err == nil {
		if u.m, err = e.verifyRelease(ctx, dir, u.begin.To, u.live); err != nil {
			e.log.WithError(err).Info("the staging clone left by an earlier attempt does not verify; downloading again")
			if err := e.root.RemoveAll(dir); err != nil {
				return err
			}
		} else {
			e.log.Info("reusing the verified staging clone " + dir)
		}
	}
	if u.m == nil {
		if err := e.clone(ctx, u.tag, dir, downloadProgress(u.st.within(bandDownload.span()))); err != nil {
			return fmt.Errorf("download %s: %w", u.tag, err)
		}
	}
	return u.step(phaseFetched)
}

// verify checks the staging clone, unless fetch reused one it verified,
// and journals verified.
func (u *update) verify(ctx context.Context) error {
	e := u.e
	if u.m == nil {
		u.st.enter(bandVerify, "Verifying the signature and files of "+u.tag)
		if err := u.verifyClone(ctx); err != nil {
			return err
		}
	}
	if err := u.step(phaseVerified); err != nil {
		return err
	}
	var err error
	u.staging, err = e.root.OpenRoot(u.begin.Staging)
	return err
}

// verifyClone verifies the staging clone just made. One that fails is
// made and verified once more without the object store and cache, when a
// cache was there: a cached object may have changed since (a staged file
// written in place is a link to one), which is no fault of the release.
func (u *update) verifyClone(ctx context.Context) error {
	e, dir := u.e, u.begin.Staging
	_, cached := e.root.Lstat(approot.CacheDir)
	var err error
	if u.m, err = e.verifyRelease(ctx, dir, u.begin.To, u.live); err == nil {
		return nil
	}
	e.distrustStore()
	if cached != nil {
		return err
	}
	e.log.WithError(err).Warn("the release staged from the object cache does not verify; downloading it whole")
	if err := e.root.RemoveAll(dir); err != nil {
		return err
	}
	if err := e.clone(ctx, u.tag, dir, io.Discard); err != nil {
		return fmt.Errorf("download %s: %w", u.tag, err)
	}
	if u.m, err = e.verifyRelease(ctx, dir, u.begin.To, u.live); err != nil {
		e.distrustStore()
		return err
	}
	return nil
}

// backup plans the update and saves what it changes in the undo area.
func (u *update) backup(ctx context.Context) error {
	u.st.enter(bandBackup, "Backing up the files the update replaces")
	compared := time.Now()
	want, before, err := plan(ctx, u.e.root, u.staging, u.live.manifest, u.m, u.e.cfg.Protect)
	if err != nil {
		return fmt.Errorf("plan the update: %w", err)
	}
	u.want = want
	return u.capture(ctx, before, compared)
}

// put puts every path of the plan into its wanted state.
func (u *update) put(ctx context.Context, progress func(done, total int)) error {
	// CopyShared: files linked from the object cache must not go live.
	opts := install.Options{From: u.begin.Staging, Progress: progress, CopyShared: true}
	if err := install.Apply(ctx, u.e.root, u.want, opts); err != nil {
		return fmt.Errorf("install %s: %w", u.tag, err)
	}
	return nil
}

// verifyRelease checks the release in the staging dir: signature by a
// trusted key, tree equal to the manifest, versions, no protected path,
// requires met by the live release. Every rejection wraps ErrRejected.
func (e *Engine) verifyRelease(ctx context.Context, dir, want string, live release) (*manifest.Manifest, error) {
	staging, err := e.root.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer staging.Close()
	m, err := releasepkg.VerifyDir(ctx, staging, e.cfg.Pubkeys, want)
	if err != nil {
		return nil, fmt.Errorf("v%s rejected: %w", want, err)
	}
	if err := checkProtected(m, e.cfg.Protect); err != nil {
		return nil, fmt.Errorf("v%s rejected: %w", want, err)
	}
	if err := e.checkTrust(staging, m); err != nil {
		return nil, fmt.Errorf("v%s rejected: %w", want, err)
	}
	if err := checkLinks(m, e.cfg.Protect); err != nil {
		return nil, fmt.Errorf("v%s rejected: %w", want, err)
	}
	if err := checkRequires(staging, live); err != nil {
		return nil, fmt.Errorf("v%s rejected: %w", want, err)
	}
	return m, nil
}

// checkRequires checks the release's "requires" constraint against the
// installed version. A fresh root has nothing to check against.
func checkRequires(staging *os.Root, live release) error {
	in, err := readInfo(staging, approot.InfoFile)
	if err != nil {
		return rejectf("%v", err)
	}
	if in.Requires == "" || live.version == nil {
		return nil
	}
	c, err := version.NewConstraint(in.Requires)
	if err != nil {
		return rejectf("requires %q is not a version constraint", clip.String(in.Requires))
	}
	if !c.Check(live.version) {
		return rejectf("it requires %s, but %s is installed", clip.String(in.Requires), live.tag())
	}
	return nil
}

// capture journals backup, saves the current state of every path the
// transaction changes into the undo area, and journals backed-up with the
// index's sha256. compared is when the live files were compared with the
// release (backup.Index.Compared), if they were.
func (t *txn) capture(ctx context.Context, before []install.Node, compared time.Time) error {
	if err := t.step(phaseBackup); err != nil {
		return err
	}
	seq, err := backup.NextSeq(t.e.root, approot.BackupsDir)
	if err != nil {
		return err
	}
	idx := backup.Index{Version: t.begin.From, To: t.begin.To, Seq: seq, Nodes: before, Compared: compared}
	sum, err := backup.Capture(ctx, t.e.root, undoDir, idx)
	if err != nil {
		return fmt.Errorf("back up: %w", err)
	}
	return t.logSoon(record{Step: StepBackedUp, Index: sum})
}

// install returns the step that journals install, changes the live root
// with put (which counts its progress in band b, described by desc), and
// journals installed.
func (t *txn) install(b band, desc string, put func(context.Context, func(done, total int)) error) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := t.step(phaseInstall); err != nil {
			return err
		}
		t.st.enter(b, desc)
		if err := put(ctx, t.st.count(b, desc)); err != nil {
			return err
		}
		return t.done(phaseInstalled)
	}
}
