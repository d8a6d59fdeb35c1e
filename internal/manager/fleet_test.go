package manager

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/discovery"
	"github.com/hoist-dev/hoist/internal/manager/managertest"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// phasedRepo holds 1.0.0 and 1.1.0, which rolls out to half the nodes.
func phasedRepo(t *testing.T) *releaserepo.Repo {
	return releaserepo.New(t, releaserepo.Release{Version: "1.0.0"}, releaserepo.Release{Version: "1.1.0", Rollout: `{"percent":50}`})
}

// rootOn1 is a root on 1.0.0 whose node id is inside (or outside) 1.1.0's rollout.
func rootOn1(t *testing.T, inside bool) (root, id string) {
	root = managertest.NewRoot(t, "1.0.0")
	id = managertest.WriteNodeID(t, root, func(id string) bool { return discovery.Bucket(id, "1.1.0") < 50 == inside })
	return root, id
}

func TestPhasedGetUpdateAndMetrics(t *testing.T) {
	repo := phasedRepo(t)
	tests := []struct {
		name, answer string
		metrics      []string
	}{
		{"inside", `"version":"1.1.0"`, []string{
			`hoist_manager_available_version_info{latest="1.1.0",version="1.1.0"} 1`,
			`hoist_manager_behind_since_timestamp_seconds{latest="1.1.0"} `,
		}},
		{"outside", `{"message":"up-to-date","phased":{"version":"1.1.0","percent":50,"bucket":`, []string{
			`hoist_manager_rollout_held_percent{version="1.1.0"} 50`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, id := rootOn1(t, tt.name == "inside")
			s := start(t, root, repo.FileURL(), options{})
			if code, _, body := call(t, "GET", s.url+"/v1/system/get-update", testToken, ""); code != 200 || !strings.Contains(body, tt.answer) {
				t.Fatalf("get-update: %d %s, want %s", code, body, tt.answer)
			}
			_, _, body := call(t, "GET", s.url+"/metrics", testToken, "")
			want := append(tt.metrics, `hoist_manager_info{channel="stable",node_id="`+id+`",version="1.0.0"} 1`,
				`hoist_manager_last_successful_check_timestamp_seconds `)
			for _, m := range want {
				if !strings.Contains(body, m) {
					t.Errorf("metrics lack %q", m)
				}
			}
			for _, absent := range []string{"available_version_info{", "behind_since_timestamp_seconds{", "rollout_held_percent{"} {
				if strings.Contains(body, absent) && !strings.Contains(strings.Join(tt.metrics, " "), absent) {
					t.Errorf("metrics hold %s when %s the rollout", absent, tt.name)
				}
			}
			// A manual update is always allowed.
			if code, _, body := call(t, "POST", s.url+"/v1/system/update", testToken, "{}"); code != 200 || !strings.Contains(body, "v1.1.0") {
				t.Errorf("manual update: %d %s", code, body)
			}
		})
	}
}

func TestInfoNodeID(t *testing.T) {
	root, id := rootOn1(t, true)
	s := start(t, root, phasedRepo(t).FileURL(), options{})
	_, _, body := call(t, "GET", s.url+"/v1/system/info", testToken, "")
	var info map[string]any
	if err := json.Unmarshal([]byte(body), &info); err != nil || info["node_id"] != id || info["version"] != "1.0.0" {
		t.Fatalf("info = %s (%v), want node_id %s next to the release", body, err, id)
	}
	if !strings.HasSuffix(body, "}\n") {
		t.Errorf("info = %q, want a JSON object and a newline, as every answer", body)
	}
	// The copy is the manager's own to break: an invalid one is not shown.
	info = nil
	writeFile(t, filepath.Join(root, "statuses/node-id"), `"><script>`+strings.Repeat("a", 100))
	_, _, body = call(t, "GET", s.url+"/v1/system/info", testToken, "")
	if err := json.Unmarshal([]byte(body), &info); err != nil || info["node_id"] != nil || !strings.HasSuffix(body, "}\n") {
		t.Fatalf("info with a bad node id = %q", body)
	}
}

// Automatic updates wait for the rollout to reach the node.
func TestAutoUpdateRespectsPhase(t *testing.T) {
	root, _ := rootOn1(t, false)
	s := start(t, root, phasedRepo(t).FileURL(), options{checkInterval: 50 * time.Millisecond, autoUpdate: true})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.logs.String(), "rolling out") {
		if time.Now().After(deadline) {
			t.Fatalf("no held check in the log:\n%s", s.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // several intervals
	if _, err := os.Stat(filepath.Join(root, "events/signals/update")); err == nil {
		t.Fatal("an automatic update was requested for a node outside the rollout")
	}
}

func TestInfoAnswer(t *testing.T) {
	const id = "0123456789abcdef0123456789abcdef"
	for _, tt := range []struct{ raw, id, want string }{
		{`{"version":"1.0.0"}`, id, `{"version":"1.0.0","node_id":"` + id + `"}` + "\n"},
		{"{ \"version\": \"1.0.0\", \"n\": 1.50 }\n", id, `{"version":"1.0.0","n":1.50,"node_id":"` + id + `"}` + "\n"},
		{"{ }", id, `{"node_id":"` + id + `"}` + "\n"},
		{`{"version":"1.0.0"}`, "", `{"version":"1.0.0"}` + "\n"},
	} {
		got, err := infoAnswer([]byte(tt.raw), tt.id)
		if err != nil || string(got) != tt.want {
			t.Errorf("infoAnswer(%q, %q) = %q, %v; want %q", tt.raw, tt.id, got, err, tt.want)
		}
		if !json.Valid(got) {
			t.Errorf("infoAnswer(%q) is not JSON: %s", tt.raw, got)
		}
	}
}
