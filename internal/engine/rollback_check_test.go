package engine_test

import (
	"os"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
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
