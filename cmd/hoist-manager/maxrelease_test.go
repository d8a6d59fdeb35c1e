package main

import (
	"net/http"
	"testing"

	"github.com/hoist-dev/hoist/internal/manager/managertest"
	"github.com/hoist-dev/hoist/internal/testutil/hugeblob"
)

// A default branch holding a 2 GiB file of zeros (2.5 MB on the wire):
// get-update answers 502 without the manager inflating it, over every
// transport (issue 12).
func TestGetUpdateOfAHugeRelease(t *testing.T) {
	const maxRSS = 256 << 20
	for name, url := range hugeblob.Served(t, 2<<30, "v9.0.0") {
		t.Run(name, func(t *testing.T) {
			p := startManager(t, managertest.NewRoot(t, "0.9.0"), url)
			code, body := get(t, "GET", p.url+"/v1/system/get-update", testToken)
			if code != http.StatusBadGateway {
				t.Errorf("get-update: %d %s, want 502", code, body)
			}
			rss := p.PeakRSS() << 10
			p.Stop()
			t.Logf("%d %s; peak RSS %d MiB", code, body, rss>>20)
			if rss >= maxRSS {
				t.Errorf("peak RSS %d MiB, want below %d MiB", rss>>20, maxRSS>>20)
			}
		})
	}
}
