package engine_test

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/hoist-dev/hoist/internal/engine"
	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
	"github.com/hoist-dev/hoist/internal/testutil/treesnap"
)

// pwned is what a planted script creates if root runs it.
const pwned = "data/pwned"

// plantedScript is what the manager (or anyone writing where it writes)
// would put where a release link leads.
var plantedScript = releaserepo.Script(`touch "$HOIST_ROOT/` + pwned + `"`)

// TestLinksIntoForeignPaths: a signed release with a symlink that leads,
// directly or through its other links, into a directory the release does
// not control is rejected before anything changes, and nothing planted
// there runs. With `scripts -> statuses`, the manager (which writes
// statuses/) would otherwise choose what root runs.
func TestLinksIntoForeignPaths(t *testing.T) {
	noScripts := func(files map[string]releaserepo.File) {
		for n := range 4 {
			delete(files, scriptPath(n))
		}
	}
	tests := []struct {
		name  string
		edit  func(files map[string]releaserepo.File)
		plant string // where the manager plants a script before the update
		want  string // in the rejection
	}{
		{name: "scripts to statuses", edit: func(files map[string]releaserepo.File) {
			noScripts(files)
			files["scripts"] = releaserepo.File{Link: "statuses"}
		}, plant: "statuses/update/01-run.sh", want: "symlink scripts -> statuses leads into statuses"},
		{name: "chain into statuses", edit: func(files map[string]releaserepo.File) {
			files["a"] = releaserepo.File{Link: "b"}
			files["b"] = releaserepo.File{Link: "statuses"}
		}, want: "symlink a -> b leads into statuses"},
		{name: "scripts through a chain", edit: func(files map[string]releaserepo.File) {
			noScripts(files)
			files["scripts"] = releaserepo.File{Link: "app/hooks"}
			files["app/hooks"] = releaserepo.File{Link: "../events"}
		}, plant: "events/update/01-run.sh", want: "symlink app/hooks -> ../events leads into events"},
		{name: "into protected data", edit: func(files map[string]releaserepo.File) {
			files["app/db"] = releaserepo.File{Link: "../data/db"}
		}, want: "leads into data"},
		{name: "into triggers", edit: func(files map[string]releaserepo.File) {
			files["app/hook"] = releaserepo.File{Link: "../triggers/update"}
		}, want: "leads into triggers"},
		{name: "scripts behind an inner link", edit: func(files map[string]releaserepo.File) {
			for n := range 4 {
				files["tools/update/"+scriptPath(n)[len("scripts/update/"):]] = files[scriptPath(n)]
			}
			noScripts(files)
			files["scripts"] = releaserepo.File{Link: "tools"}
		}, want: "update scripts must be regular files in real directories, but scripts is a symlink"},
	}
	base := variants(t, len(tests), func(i int, rel *releaserepo.Release) { tests[i].edit(rel.Files) })
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			to := variant(i)
			f := base.copyOf(t)
			if tt.plant != "" {
				os.MkdirAll(f.path(tt.plant[:strings.LastIndex(tt.plant, "/")]), 0o755)
				os.WriteFile(f.path(tt.plant), []byte(plantedScript.Content), 0o755)
			}
			before := f.snap()
			f.request(to)
			r := f.hoist("apply")
			if _, err := os.Lstat(f.path(pwned)); err == nil {
				t.Error("the planted script ran")
			}
			if r.Code != exitcode.Rejected || !strings.Contains(r.Stderr, tt.want) {
				t.Fatalf("apply %s: %s", to, r)
			}
			treesnap.Same(t, "live root", f.snap(), before)
			if st := f.status(); st.State != statusfile.Failed || !strings.Contains(st.Description, tt.want) {
				t.Errorf("status %+v", st)
			}
		})
	}
}

// TestScriptsChangedAfterVerification: an update script that is not the
// verified file when its turn comes (replaced by a symlink, below a
// directory replaced by a symlink, or with other content) is not run; the
// update fails and the previous release is restored. 01-run.sh does the
// tampering, standing in for anything that could act between the
// verification and the run.
func TestScriptsChangedAfterVerification(t *testing.T) {
	const update = `"$HOIST_ROOT/scripts/update"`
	plant := `mkdir -p "$HOIST_ROOT/statuses/update"
printf '#!/bin/sh\ntouch "$HOIST_ROOT/` + pwned + `"\n' > "$HOIST_ROOT/statuses/update/02-run.sh"
chmod 755 "$HOIST_ROOT/statuses/update/02-run.sh"
`
	tests := []struct{ name, tamper, want string }{
		{"script replaced by a symlink",
			plant + `rm ` + update + `/02-run.sh; ln -s ../../statuses/update/02-run.sh ` + update + `/02-run.sh`,
			"02-run.sh was not run: scripts/update/02-run.sh is a symlink"},
		{"directory replaced by a symlink",
			plant + `rm -r ` + update + `; ln -s ../statuses/update ` + update,
			"02-run.sh was not run: scripts/update is a symlink"},
		{"content changed",
			`echo 'touch "$HOIST_ROOT/` + pwned + `"' >> ` + update + `/02-run.sh`,
			"02-run.sh was not run: scripts/update/02-run.sh: content differs from the verified release"},
	}
	base := variants(t, len(tests), func(i int, rel *releaserepo.Release) {
		s := releaserepo.LoggingScript(rel.Version, 1)
		s.Content += "\n" + tests[i].tamper + "\n"
		rel.Files[scriptPath(1)] = s
	})
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			to := variant(i)
			f := base.copyOf(t)
			before := f.snap()
			f.request(to)
			r := f.hoist("apply")
			if _, err := os.Lstat(f.path(pwned)); err == nil {
				t.Error("the changed script ran")
			}
			want := tt.want + "; restored v1.0.0"
			if r.Code != exitcode.Failure || !strings.Contains(r.Stderr, want) {
				t.Fatalf("apply %s: %s", to, r)
			}
			treesnap.Same(t, "live root", f.snap(".app-*"), before)
			if st := f.status(); st.State != statusfile.Failed || st.Description != want {
				t.Errorf("status %+v", st)
			}
			runs := releaserepo.ScriptRuns(t, f.root)
			if last := runs[len(runs)-1]; !strings.HasPrefix(last, "v1.0.0/01 ") {
				t.Errorf("last script run %q, want the restored release's 01-run.sh", last)
			}
		})
	}
}

// TestStagingScriptChangedAfterVerification: 00-run.sh runs from the
// staging clone under the same checks. The clone a failed update kept is
// changed, and its 00-run.sh run directly: only the untouched one runs.
func TestStagingScriptChangedAfterVerification(t *testing.T) {
	f := newFixture(t, releaserepo.DefaultReleases()[0], failingAt("1.1.0", 2))
	f.must("apply", "--to", "v1.0.0")
	if r := f.hoist("apply", "--to", "v1.1.0"); r.Code != exitcode.Failure {
		t.Fatalf("apply: %s", r)
	}
	const staging = ".app-v1.1.0"
	update := f.path(staging + "/scripts/update")
	tampers := []struct {
		name   string
		tamper func()
		want   string
	}{
		{"untouched", func() {}, ""},
		{"content changed", func() {
			os.WriteFile(update+"/00-run.sh", []byte(plantedScript.Content), 0o755)
		}, staging + "/scripts/update/00-run.sh: content differs from the verified release"},
		{"script replaced by a symlink", func() {
			os.WriteFile(f.path("statuses/00-run.sh"), []byte(plantedScript.Content), 0o755)
			os.Remove(update + "/00-run.sh")
			os.Symlink("../../../statuses/00-run.sh", update+"/00-run.sh")
		}, staging + "/scripts/update/00-run.sh is a symlink"},
		{"directory replaced by a symlink", func() {
			os.Rename(update, f.path("statuses/update"))
			os.Symlink("../../statuses/update", update)
		}, staging + "/scripts/update is a symlink"},
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	e, err := engine.Open(engine.Options{Root: f.root, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, tt := range tampers {
		tt.tamper()
		runs := len(releaserepo.ScriptRuns(t, f.root))
		err := e.RunScript(context.Background(), 0, staging, "v1.1.0")
		if _, statErr := os.Lstat(f.path(pwned)); statErr == nil {
			t.Fatalf("%s: the changed script ran", tt.name)
		}
		ran := len(releaserepo.ScriptRuns(t, f.root)) > runs
		switch {
		case tt.want == "" && (err != nil || !ran):
			t.Errorf("%s: err %v, ran %v", tt.name, err, ran)
		case tt.want != "" && (err == nil || err.Error() != "00-run.sh was not run: "+tt.want):
			t.Errorf("%s: err %v, want %q", tt.name, err, tt.want)
		}
	}
}

// variants returns a fixture at v1.0.0 that also holds n variants of
// v1.1.0, named by variant(i), each edited by edit(i, its copy).
func variants(t *testing.T, n int, edit func(i int, rel *releaserepo.Release)) *fixture {
	rels := releaserepo.DefaultReleases()[:1]
	for i := range n {
		rel := releaserepo.DefaultReleases()[1]
		rel.Version = variant(i)[1:]
		rel.Files = maps.Clone(rel.Files)
		edit(i, &rel)
		rels = append(rels, rel)
	}
	f := newFixture(t, rels...)
	f.must("apply", "--to", "v1.0.0")
	return f
}

// variant is the tag of variants' i-th release.
func variant(i int) string { return fmt.Sprintf("v1.2.%d", i) }
