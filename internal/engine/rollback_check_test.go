package engine_test

import (
	"os"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
	"github.com/hoist-dev/hoist/internal/testutil/treesnap"
)

// TestRollbackReportsDrift: after a rollback, the files of the restored
// release that differ from its manifest are logged, both kinds: one the
// update never touched and someone changed since (hashed), and one that
// differed already when the update saved it (known from the backup).
// Files restored as listed are not reported.
func TestRollbackReportsDrift(t *testing.T) {
	rels := rollbackReleases()
	for i := range rels {
		rels[i].Files["app/same.txt"] = releaserepo.File{Content: "in every release\n"}
	}
	f := newFixture(t, rels...)
	f.must("apply", "--to", "v1.0.0")
	os.WriteFile(f.path("app/config.yml"), []byte("edited under v1.0.0\n"), 0o644)
	f.must("apply", "--to", "v1.1.0")
	os.WriteFile(f.path("app/same.txt"), []byte("edited under v1.1.0\n"), 0o644)

	r := f.must("rollback")
	for _, want := range []string{"app/config.yml: differed already before the update", "app/same.txt: content changed"} {
		if !strings.Contains(r.Stderr, "restored release differs from its manifest: "+want) {
			t.Errorf("no warning %q:\n%s", want, r.Stderr)
		}
	}
	if n := strings.Count(r.Stderr, "restored release differs"); n != 2 {
		t.Errorf("%d warnings, want 2:\n%s", n, r.Stderr)
	}
	if got := f.read("app/config.yml"); got != "edited under v1.0.0\n" {
		t.Errorf("app/config.yml is %q, not as v1.0.0 left it", got)
	}
}

// TestRollbackFromDamagedManifest: the manifest of the release rolled back
// from is read only for the check at the end, so a damaged one does not
// stand in the way of going back; the check then hashes every file the
// update never touched instead, and finds nothing to report.
func TestRollbackFromDamagedManifest(t *testing.T) {
	f, v100, _ := updated(t)
	os.Remove(f.path("hoist-release.json")) // a new inode: live files are never written in place
	os.WriteFile(f.path("hoist-release.json"), []byte("{not json"), 0o644)

	r := f.must("rollback")
	treesnap.Same(t, "after rollback", f.snap("data", ".app-*"), v100)
	if strings.Contains(r.Stderr, "restored release differs") || strings.Contains(r.Stderr, "not v1.0.0 as expected") {
		t.Errorf("the check warned:\n%s", r.Stderr)
	}
}
