package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/discovery"
	"github.com/hoist-dev/hoist/internal/manager/managertest"
	"github.com/hoist-dev/hoist/internal/testutil/releaserepo"
)

// The real binary against a real repository whose newest release rolls out
// to 30 % of the nodes: a node inside gets it, a node outside is told it is
// up to date and why, and can still ask for it.
func TestProcessPhasedRollout(t *testing.T) {
	url := releaserepo.New(t,
		releaserepo.Release{Version: "1.0.0"},
		releaserepo.Release{Version: "1.1.0", Rollout: `{"percent":30}`},
	).ServeHTTP(t)
	for _, tt := range []struct {
		name   string
		inside bool
		want   string
	}{
		{"inside", true, `"version":"1.1.0"`},
		{"outside", false, `{"message":"up-to-date","phased":{"version":"1.1.0","percent":30,"bucket":`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := managertest.NewRoot(t, "1.0.0")
			id := managertest.WriteNodeID(t, root, func(id string) bool { return discovery.Bucket(id, "1.1.0") < 30 == tt.inside })
			p := startManager(t, root, url)
			if code, body := get(t, "GET", p.url+"/v1/system/get-update", testToken); code != http.StatusOK || !strings.HasPrefix(body, "{") || !strings.Contains(body, tt.want) {
				t.Errorf("get-update: %d %s, want %s", code, body, tt.want)
			}
			if _, body := get(t, "GET", p.url+"/v1/system/info", testToken); !strings.Contains(body, `"node_id":"`+id+`"`) {
				t.Errorf("info: %s, want node_id %s", body, id)
			}
			if code, body := get(t, "POST", p.url+"/v1/system/update", testToken); code != http.StatusOK || body != `{"message":"Updating to v1.1.0"}` {
				t.Errorf("manual update: %d %s", code, body)
			}
		})
	}
}
