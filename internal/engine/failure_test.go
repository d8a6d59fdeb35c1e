package engine_test

import (
	"fmt"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/testutil/treesnap"

	"github.com/hoist-dev/hoist/internal/config"
	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// TestScriptFailures makes each update script fail in turn, and one time
// out: the update stops there, the root is v1.0.0 again byte for byte, the
// old 01-run.sh ran again, and the status and the failure report name the
// script and its exit status.
func TestScriptFailures(t *testing.T) {
	type tc struct {
		name, desc string
		rel        releaserepo.Release
		status     string // exit status line of the report
	}
	var tests []tc
	for n := range 4 {
		outcome := "restored v1.0.0"
		if n == 0 {
			outcome = "v1.0.0 is still installed" // 00 runs before anything changes
		}
		tests = append(tests, tc{
			name: fmt.Sprintf("%02d fails", n), rel: failingAt("1.1.0", n), status: "exit status: 3",
			desc: fmt.Sprintf("%02d-run.sh exited with status 3; %s", n, outcome),
		})
	}
	slow := failingAt("1.1.0", 2)
	slow.Files[scriptPath(2)] = releaserepo.Script(`echo "about to fail"; echo "on stderr" >&2; sleep 30`)
	tests = append(tests, tc{name: "02 times out", rel: slow, desc: "02-run.sh timed out after 1s; restored v1.0.0"})

	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rels := []releaserepo.Release{releaserepo.DefaultReleases()[0], tt.rel}
			checkCleanup := i == 2
			if checkCleanup {
				good := releaserepo.DefaultReleases()[1]
				good.Version = "1.2.0"
				rels = append(rels, good)
			}
			f := newFixture(t, rels...)
			f.editConfig(func(c *config.Config) { c.ScriptTimeout = config.Duration(time.Second) })
			f.must("apply", "--to", "v1.0.0")
			os.WriteFile(f.path("data/user.db"), []byte("user data"), 0o600)
			before := f.snap()
			f.request("v1.1.0")
			r := f.hoist("apply")
			if r.Code != exitcode.Failure || !strings.Contains(r.Stderr, tt.desc) {
				t.Fatalf("apply: %s", r)
			}
			treesnap.Same(t, "live root", f.snap(".app-*"), before)
			if st := f.status(); st.State != statusfile.Failed || st.Description != tt.desc || st.UpdateTo != "v1.1.0" {
				t.Errorf("status %+v", st)
			}
			runs := releaserepo.ScriptRuns(t, f.root)
			if want := "v1.0.0/01 release=v1.0.0 from=1.1.0 args=v1.0.0 " + f.root; runs[len(runs)-1] != want {
				t.Errorf("last script run %q, want %q", runs[len(runs)-1], want)
			}
			report := f.read(".hoist/logs/last-failure.log")
			for _, want := range []string{"about to fail", "on stderr", tt.desc[strings.Index(tt.desc, "; ")+2:], tt.status} {
				if !strings.Contains(report, want) {
					t.Errorf("report lacks %q:\n%s", want, report)
				}
			}
			if f.read("statuses/last-failure.log") != report {
				t.Error("statuses/last-failure.log is not a copy of the report")
			}
			if checkCleanup {
				f.must("apply", "--to", "v1.2.0")
				for _, p := range []string{".hoist/logs/last-failure.log", "statuses/last-failure.log", ".app-v1.1.0"} {
					if _, err := os.Lstat(f.path(p)); !os.IsNotExist(err) {
						t.Errorf("%s still there after a successful update", p)
					}
				}
			}
		})
	}
}

// TestFirstInstallFailure: a first install whose script fails removes
// everything it wrote.
func TestFirstInstallFailure(t *testing.T) {
	f := newFixture(t, failingAt("1.1.0", 2))
	before := f.snap()
	r := f.hoist("apply", "--to", "v1.1.0")
	want := "02-run.sh exited with status 3; removed the partial install of v1.1.0"
	if r.Code != exitcode.Failure || !strings.Contains(r.Stderr, want) {
		t.Fatalf("apply: %s", r)
	}
	treesnap.Same(t, "root", f.snap(".app-*", "data"), before)
	if st := f.status(); st.State != statusfile.Failed || st.Description != want {
		t.Errorf("status %+v", st)
	}
	if _, err := os.Lstat(f.path("statuses/info.json")); !os.IsNotExist(err) {
		t.Errorf("statuses/info.json exists without a release: %v", err)
	}
}

// TestRetryReusesStaging: after a script failed, the verified clone is
// kept; the next attempt reuses it if it still verifies and downloads the
// release again if it does not.
func TestRetryReusesStaging(t *testing.T) {
	rels := releaserepo.DefaultReleases()[:2]
	s := releaserepo.LoggingScript("1.1.0", 2)
	s.Content = strings.Replace(s.Content, "set -e\n", "set -e\n[ ! -e \"$HOIST_ROOT/data/fail-02\" ] || exit 3\n", 1)
	rels[1].Files[scriptPath(2)] = s
	f := newFixture(t, rels...)
	f.must("apply", "--to", "v1.0.0")
	os.MkdirAll(f.path("data"), 0o755)
	os.WriteFile(f.path("data/fail-02"), nil, 0o644)
	for _, tamper := range []bool{false, true} {
		if r := f.hoist("apply", "--to", "v1.1.0"); r.Code != exitcode.Failure {
			t.Fatalf("apply: %s", r)
		}
		if _, err := os.Stat(f.path(".app-v1.1.0/info.json")); err != nil {
			t.Fatalf("staging clone not kept: %v", err)
		}
		want := "reusing the verified staging clone"
		if tamper {
			os.WriteFile(f.path(".app-v1.1.0/app/config.yml"), []byte("tampered\n"), 0o644)
			want = "does not verify; downloading again"
		}
		os.Remove(f.path("data/fail-02"))
		r := f.must("apply", "--to", "v1.1.0")
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("retry log lacks %q:\n%s", want, r.Stderr)
		}
		if got := f.read("app/config.yml"); got != "version: 1.1.0\n" {
			t.Errorf("config.yml = %q", got)
		}
		f.must("rollback")
		os.WriteFile(f.path("data/fail-02"), nil, 0o644)
	}
}

// TestScriptsGetDefaultSIGPIPE: the engine survives a dead log reader by
// catching SIGPIPE, but its scripts must still get the default action (an
// ignored signal stays ignored across exec): in `yes | head -n 1`, yes must
// die of SIGPIPE (status 141), not see write errors.
func TestScriptsGetDefaultSIGPIPE(t *testing.T) {
	rel := releaserepo.DefaultReleases()[1]
	rel.Files = maps.Clone(rel.Files)
	rel.Files[scriptPath(1)] = releaserepo.File{Content: "#!/bin/bash\nyes | head -n 1 >/dev/null\n[ \"${PIPESTATUS[0]}\" = 141 ]\n", Mode: 0o755}
	f := newFixture(t, releaserepo.DefaultReleases()[0], rel)
	f.must("apply", "--to", "v1.0.0")
	f.must("apply", "--to", "v1.1.0")
}
