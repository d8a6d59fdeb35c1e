package engine

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/proc"
)

// script returns the step that journals script-0n, runs update script n of
// the release being installed from dir ("" for the root, else the staging
// clone) with its progress in s, and journals script-0n-done. A release
// without that script just journals both steps, so that the final step
// (script-03-done; script-01-done for a rollback) always proves the
// transaction complete: replay relies on it.
func (t *txn) script(n int, dir string, s span) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := t.step(scriptPhases[n][0]); err != nil {
			return err
		}
		err := t.runScript(ctx, n, dir, t.listed, "v"+t.begin.To, t.begin.From, t.begin.Staging, t.st.within(s))
		if err != nil {
			return err
		}
		return t.done(scriptPhases[n][1])
	}
}

// runScript runs update script n found in dir for release tg, logging to
// .hoist/logs/<tg>-<nn>-run.log and to the run's log. A script the
// release does not list (in listed, if set: see openScript) is not an
// error: there is nothing to run.
func (t *txn) runScript(ctx context.Context, n int, dir string, listed manifestOf, tg, from, staging string, progress func(int, string)) error {
	e, name := t.e, proc.Names[n]
	script, err := e.openScript(dir, name, listed)
	if script == nil || err != nil {
		return err
	}
	defer script.Close()
	log, logName, err := e.scriptLog(tg, n)
	if err != nil {
		return err
	}
	defer log.Close()
	progress(0, "Running "+name)
	if staging != "" {
		staging = filepath.Join(e.dir, staging)
	}
	err = proc.Run(ctx, proc.Spec{
		Name: name, Script: script, Args: []string{tg, e.dir}, Dir: e.dir,
		Env: []string{
			"HOIST_ROOT=" + e.dir, "HOIST_RELEASE=" + tg, "HOIST_STAGING=" + staging, "HOIST_FROM=" + from,
		},
		Timeout: time.Duration(e.cfg.ScriptTimeout), Log: t.scriptOutput(log, name, tg), Logger: e.log, Progress: progress,
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
