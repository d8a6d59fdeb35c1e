package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-version"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/backup"
	"github.com/hoist-dev/hoist/internal/clip"
	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/install"
	"github.com/hoist-dev/hoist/internal/manifest"
	releasepkg "github.com/hoist-dev/hoist/internal/release"
	"github.com/hoist-dev/hoist/internal/scripts"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/tag"
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
	st.progress(pctStart, "Preparing the update to "+tg)
	if err := t.apply(ctx, live); err != nil {
		return "", t.abort(ctx, err)
	}
	desc, err := t.commit("")
	if err == nil {
		e.pruneStore(ctx, tg)
	}
	return desc, err
}

// target returns the tag to install: opts.To, else updateTo from the
// status file. fromStatus says which; the error wraps ErrUsage for a bad
// --to or an empty updateTo, ErrRejected for a bad or unreadable status.
func (e *Engine) target(to string) (tg string, v *version.Version, fromStatus bool, err error) {
	if to != "" {
		if v, err = tag.Parse(to); err != nil {
			return "", nil, false, fmt.Errorf("%w: --to %v", exitcode.ErrUsage, err)
		}
		return to, v, false, nil
	}
	st, err := statusfile.Read(e.statuses)
	if err != nil {
		return "", nil, true, rejectf("cannot read the requested update: %v", err)
	}
	if st.UpdateTo == "" {
		return "", nil, false, fmt.Errorf("%w: no update requested (updateTo in the status file is empty); use --to vX.Y.Z", exitcode.ErrUsage)
	}
	if v, err = tag.Parse(st.UpdateTo); err != nil {
		return "", nil, true, rejectf("requested update %v", err)
	}
	return st.UpdateTo, v, true, nil
}

// refuse reports err, an apply that stops before changing anything, in the
// status file when someone waits for the result (state installing) or the
// status file is unusable, and returns err.
func (e *Engine) refuse(err error) error {
	st, readErr := statusfile.Read(e.statuses)
	if readErr == nil && st.State != statusfile.Installing {
		return err
	}
	r := e.newReporter(st.UpdateTo)
	r.cur.Progress = st.Progress
	desc := err.Error()
	if live, _ := e.installed(); live.version == nil || !strings.Contains(desc, live.tag()) {
		desc += "; " + stillInstalled(live.version)
	}
	r.finish(statusfile.Failed, desc)
	return err
}

// rejection is a refused release or request: exit 4, in the words given.
type rejection struct{ msg string }

func (r rejection) Error() string { return r.msg }
func (r rejection) Unwrap() error { return exitcode.ErrRejected }

func rejectf(format string, a ...any) error { return rejection{fmt.Sprintf(format, a...)} }

// checkVersion refuses v unless it is newer than the live release.
func checkVersion(live release, v *version.Version, allowDowngrade bool) error {
	switch {
	case live.version == nil || allowDowngrade && !v.Equal(live.version):
		return nil
	case v.Equal(live.version):
		return rejectf("%s is already installed", tag.Of(v))
	case v.LessThan(live.version):
		return rejectf("%s is older than the installed %s (use --allow-downgrade)", tag.Of(v), live.tag())
	}
	return nil
}

func versionString(v *version.Version) string {
	if v == nil {
		return ""
	}
	return v.String()
}

func stillInstalled(v *version.Version) string {
	if v == nil {
		return "no release is installed"
	}
	return tag.Of(v) + " is still installed"
}

// apply runs the steps of an update after begin.
func (t *txn) apply(ctx context.Context, live release) error {
	e, st := t.e, t.st
	tg := "v" + t.begin.To
	staging, m, err := t.fetchAndVerify(ctx, live)
	if err != nil {
		return err
	}
	defer staging.Close()
	if err := t.runScript(ctx, 0, t.begin.Staging, pct00, 6); err != nil {
		return err
	}

	st.progress(pctBackup, "Backing up the files the update replaces")
	want, before, err := plan(ctx, e.root, staging, live.manifest, m, e.cfg.Protect)
	if err != nil {
		return fmt.Errorf("plan the update: %w", err)
	}
	if err := t.capture(ctx, before); err != nil {
		return err
	}

	if err := t.step(StepInstall); err != nil {
		return err
	}
	st.progress(pctInstall, "Installing files")
	opts := install.Options{From: t.begin.Staging, Progress: st.count(pctInstall, 14, "Installing files")}
	if err := install.Apply(ctx, e.root, want, opts); err != nil {
		return fmt.Errorf("install %s: %w", tg, err)
	}
	if err := t.step(StepInstalled); err != nil {
		return err
	}
	for n := 1; n <= 3; n++ {
		if err := t.runScript(ctx, n, "", pct01+(n-1)*pctScript, pctScript); err != nil {
			return err
		}
	}
	return nil
}

// fetchAndVerify makes the staging clone (reusing one that verifies) and
// verifies it: signature, tree, version, protected paths, requires.
func (t *txn) fetchAndVerify(ctx context.Context, live release) (*os.Root, *manifest.Manifest, error) {
	e, st := t.e, t.st
	tg := "v" + t.begin.To
	st.progress(pctDownload, "Downloading "+tg)
	var m *manifest.Manifest
	if _, err := e.root.Lstat(t.begin.Staging); err == nil {
		if m, err = e.verifyRelease(ctx, t.begin.Staging, t.begin.To, live); err != nil {
			e.log.WithError(err).Info("the staging clone left by an earlier attempt does not verify; downloading again")
			if err := e.root.RemoveAll(t.begin.Staging); err != nil {
				return nil, nil, err
			}
		} else {
			e.log.Info("reusing the verified staging clone " + t.begin.Staging)
		}
	}
	if m == nil {
		if err := e.clone(ctx, tg, t.begin.Staging, downloadProgress(st.band(pctDownload, 26))); err != nil {
			return nil, nil, fmt.Errorf("download %s: %w", tg, err)
		}
	}
	if err := t.step(StepFetched); err != nil {
		return nil, nil, err
	}
	if m == nil {
		st.progress(pctVerify, "Verifying the signature and files of "+tg)
		var err error
		if m, err = e.verifyRelease(ctx, t.begin.Staging, t.begin.To, live); err != nil {
			e.distrustStore()
			return nil, nil, err
		}
	}
	if err := t.step(StepVerified); err != nil {
		return nil, nil, err
	}
	staging, err := e.root.OpenRoot(t.begin.Staging)
	return staging, m, err
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
// index's sha256.
func (t *txn) capture(ctx context.Context, before []install.Node) error {
	if err := t.step(StepBackup); err != nil {
		return err
	}
	seq, err := backup.NextSeq(t.e.root, approot.BackupsDir)
	if err != nil {
		return err
	}
	idx := backup.Index{Version: t.begin.From, To: t.begin.To, Seq: seq, Nodes: before}
	sum, err := backup.Capture(ctx, t.e.root, undoDir, idx)
	if err != nil {
		return fmt.Errorf("back up: %w", err)
	}
	return t.log(record{Step: StepBackedUp, Index: sum})
}

// runScript journals script-0n, runs update script n of the release being
// installed from dir ("" for the root, else the staging clone), and
// journals script-0n-done. A release without that script just journals
// both steps, so that script-03-done always proves the apply complete.
func (t *txn) runScript(ctx context.Context, n int, dir string, lo, width int) error {
	before, after := scriptStep(n)
	if err := t.step(before); err != nil {
		return err
	}
	err := t.e.runScript(ctx, n, dir, "v"+t.begin.To, t.begin.From, t.begin.Staging, t.st.band(lo, width))
	if err != nil {
		return err
	}
	return t.step(after)
}

// runScript runs update script n found in dir for release tg, logging to
// .hoist/logs/<tg>-<nn>-run.log. A missing script is not an error.
func (e *Engine) runScript(ctx context.Context, n int, dir, tg, from, staging string, progress func(int, string)) error {
	name := scripts.Names[n]
	rel := path.Join(dir, scripts.Dir, name)
	if _, err := e.root.Lstat(rel); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	log, logName, err := e.scriptLog(tg, n)
	if err != nil {
		return err
	}
	defer log.Close()
	progress(0, "Running "+name)
	if staging != "" {
		staging = filepath.Join(e.dir, staging)
	}
	_, err = scripts.Run(ctx, scripts.Spec{
		Name: name, Path: filepath.Join(e.dir, rel), Args: []string{tg, e.dir}, Dir: e.dir,
		Env: []string{
			"HOIST_ROOT=" + e.dir, "HOIST_RELEASE=" + tg, "HOIST_STAGING=" + staging, "HOIST_FROM=" + from,
		},
		Timeout: time.Duration(e.cfg.ScriptTimeout), Log: log, Logger: e.log, Progress: progress,
	})
	if err != nil {
		return &scriptFailure{err: err, log: logName}
	}
	return nil
}

// scriptFailure is a failed script with the log holding its output.
type scriptFailure struct {
	err error
	log string
}

func (s *scriptFailure) Error() string { return s.err.Error() }
func (s *scriptFailure) Unwrap() error { return s.err }

func (e *Engine) scriptLog(tg string, n int) (*os.File, string, error) {
	if err := e.root.MkdirAll(approot.LogsDir, 0o700); err != nil {
		return nil, "", err
	}
	name := path.Join(approot.LogsDir, fmt.Sprintf("%s-%02d-run.log", tg, n))
	f, err := e.root.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("script log: %w", err)
	}
	return f, name, nil
}

var percent = regexp.MustCompile(`Receiving objects:\s+(\d{1,3})%`)

// downloadProgress turns git's "Receiving objects: NN%" into progress.
func downloadProgress(f func(int, string)) writerFunc {
	return func(p []byte) (int, error) {
		if all := percent.FindAllSubmatch(p, -1); len(all) > 0 {
			n, _ := strconv.Atoi(string(all[len(all)-1][1]))
			f(n, "")
		}
		return len(p), nil
	}
}

type writerFunc func(p []byte) (int, error)

func (w writerFunc) Write(p []byte) (int, error) { return w(p) }
