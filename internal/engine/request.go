package engine

import (
	"fmt"
	"strings"

	"github.com/hashicorp/go-version"

	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/tag"
)

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
