package discovery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-version"

	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// nodeIDs returns n random node ids, made as nodeid makes them.
func nodeIDs(t *testing.T, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		var b [16]byte
		rand.Read(b[:])
		ids[i] = hex.EncodeToString(b[:])
	}
	return ids
}

// parseRollout parses an info.json of version 1.3.0 with the rollout given.
func parseRollout(t *testing.T, rollout string) *Rollout {
	t.Helper()
	r, err := Info{Version: "1.3.0", Rollout: []byte(rollout)}.rollout()
	if err != nil {
		t.Fatalf("rollout %s: %v", rollout, err)
	}
	return r
}

// inPhase counts the nodes Hold lets install version under r at now.
func inPhase(ids []string, version string, r *Rollout, now time.Time) (map[string]bool, float64) {
	u := &Update{Version: version, rollout: r}
	in := map[string]bool{}
	for _, id := range ids {
		if Hold(u, id, now) == nil {
			in[id] = true
		}
	}
	return in, 100 * float64(len(in)) / float64(len(ids))
}

func TestPhaseShare(t *testing.T) {
	ids := nodeIDs(t, 10000)
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	weekly := `{"start":"2026-12-01T00:00:00Z","days":7}`
	tests := []struct {
		name    string
		rollout string
		now     time.Time
		want    float64 // percent of nodes in the phase, ± 1.5
	}{
		{"percent 10", `{"percent":10}`, start, 10},
		{"percent 50", `{"percent":50}`, start, 50},
		{"percent 0 halts", `{"percent":0}`, start, 0},
		{"percent 100", `{"percent":100}`, start, 100},
		{"before start", weekly, start.Add(-time.Hour), 0},
		{"at start", weekly, start, 0},
		{"one day in", weekly, start.Add(24 * time.Hour), 100.0 / 7},
		{"half way", weekly, start.Add(84 * time.Hour), 50},
		{"after days", weekly, start.Add(8 * 24 * time.Hour), 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := inPhase(ids, "1.3.0", parseRollout(t, tt.rollout), tt.now)
			if math.Abs(got-tt.want) > 1.5 {
				t.Errorf("%.2f %% of 10,000 nodes in the phase, want %.2f ± 1.5", got, tt.want)
			}
		})
	}
}

func TestPhaseSetsDifferByVersionAndOnlyGrow(t *testing.T) {
	ids := nodeIDs(t, 10000)
	ten := parseRollout(t, `{"percent":10}`)
	a, _ := inPhase(ids, "1.3.0", ten, time.Now())
	b, _ := inPhase(ids, "1.4.0", ten, time.Now())
	both := 0
	for id := range a {
		if b[id] {
			both++
		}
	}
	// Independent 10 % draws share about 1 % of the nodes, not 10 %.
	if both > 200 {
		t.Errorf("1.3.0 and 1.4.0 share %d of 10,000 nodes at 10 %%: the version does not change the set", both)
	}
	weekly := parseRollout(t, `{"start":"2026-12-01T00:00:00Z","days":7}`)
	prev := map[string]bool{}
	for day := range 8 {
		cur, _ := inPhase(ids, "1.3.0", weekly, weekly.Start.Add(time.Duration(day)*24*time.Hour))
		for id := range prev {
			if !cur[id] {
				t.Fatalf("day %d: node %s left the rollout it was in", day, id)
			}
		}
		prev = cur
	}
}

func TestHoldAnswer(t *testing.T) {
	ten := parseRollout(t, `{"percent":10}`)
	ids := nodeIDs(t, 100)
	var out string
	for _, id := range ids {
		if Bucket(id, "2.0.0") >= 10 {
			out = id
			break
		}
	}
	step := &Update{Version: "1.5.0", Intermediate: true, Latest: "2.0.0", rollout: ten}
	held := Hold(step, out, time.Now())
	if held == nil || held.Version != "2.0.0" || held.Percent != 10 || held.Bucket == nil || *held.Bucket < 10 {
		t.Fatalf("Hold = %+v, want 2.0.0 held at 10 %% with the node's bucket", held)
	}
	if held := Hold(step, "", time.Now()); held == nil || held.Bucket != nil {
		t.Fatalf("Hold without a node id = %+v, want held with no bucket", held)
	}
	if Hold(&Update{Version: "2.0.0"}, out, time.Now()) != nil {
		t.Fatal("a release without a rollout was held")
	}
}

func TestBadRollout(t *testing.T) {
	for _, r := range []string{
		`{}`, `{"percent":-1}`, `{"percent":101}`, `{"percent":10,"days":7}`,
		`{"start":"2026-12-01T00:00:00Z"}`, `{"start":"2026-12-01T00:00:00Z","days":0}`,
		`{"start":"2026-12-01T00:00:00Z","days":7,"percent":5}`, `{"start":"tomorrow","days":7}`, `"10%"`,
		`{"percnt":10}`,
	} {
		info, err := ParseInfo([]byte(`{"version":"1.3.0","rollout":` + r + `}`))
		if err != nil {
			t.Fatalf("rollout %s: a tag's info.json must still parse: %v", r, err)
		}
		if _, err := info.rollout(); !errors.Is(err, ErrBadInfo) {
			t.Errorf("rollout %s: err = %v, want ErrBadInfo", r, err)
		}
	}
}

// A rollout the default branch gets wrong stops updates (fail closed);
// the same mistake in a tag being asked for by name does not matter.
func TestBadRolloutStopsNext(t *testing.T) {
	repo := releaserepo.New(t, releaserepo.Release{Version: "1.0.0"}, releaserepo.Release{Version: "1.1.0", Rollout: `{"percnt":10}`})
	src, err := Open(repo.FileURL(), "")
	if err != nil {
		t.Fatal(err)
	}
	f := NewFinder(src, 0, 0)
	_, err = f.Next(context.Background(), version.Must(version.NewVersion("1.0.0")))
	var fe *FetchError
	if !errors.As(err, &fe) || !strings.Contains(fe.Reason, "invalid info.json") {
		t.Fatalf("Next = %v, want an invalid info.json", err)
	}
	if got, err := f.Target(context.Background(), version.Must(version.NewVersion("1.0.0")), "v1.1.0"); err != nil || got != "v1.1.0" {
		t.Fatalf("Target v1.1.0 = %q, %v", got, err)
	}
}
