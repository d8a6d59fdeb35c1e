package engine_test

import (
	"os"
	"slices"
	"testing"

	"github.com/hoist-dev/hoist/internal/rollbackfile"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// TestPublishRollback follows statuses/rollback.json through a failed
// update, a good one and a user's rollback: the manager learns the kept
// backups and each version the node rolled back from.
func TestPublishRollback(t *testing.T) {
	good := releaserepo.DefaultReleases()[1]
	good.Version = "1.2.0"
	f := newFixture(t, releaserepo.DefaultReleases()[0], failingAt("1.1.0", 2), good)
	want := func(step string, backups, from []string) {
		t.Helper()
		statuses, err := os.OpenRoot(f.path("statuses"))
		if err != nil {
			t.Fatal(err)
		}
		defer statuses.Close()
		s, err := rollbackfile.Read(statuses)
		if err != nil || !slices.Equal(s.Backups, backups) || !slices.Equal(s.RolledBackFrom, from) {
			t.Errorf("after %s: %+v, %v; want backups %q, rolled back from %q", step, s, err, backups, from)
		}
	}
	f.must("apply", "--to", "v1.0.0")
	want("the first install", nil, nil)
	f.hoist("apply", "--to", "v1.1.0") // 02-run.sh fails: v1.0.0 is restored
	want("a failed update", nil, []string{"1.1.0"})
	f.must("apply", "--to", "v1.2.0")
	want("an update", []string{"1.0.0"}, []string{"1.1.0"})
	f.must("rollback")
	want("a rollback", nil, []string{"1.2.0", "1.1.0"})
	f.must("apply", "--to", "v1.2.0") // a user's request installs it again
	want("installing it again", []string{"1.0.0"}, []string{"1.1.0"})
}
