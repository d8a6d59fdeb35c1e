package manager

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/manager/managertest"
	"github.com/hoist-dev/hoist/internal/statusfile"
)

// BenchmarkUpdateStatus measures GET /v1/system/update-status, the route
// every page poll hits, with 16 and 64 clients on keep-alive connections to
// a manager on a loopback port (BENCHMARKS.md item 7). Client and server
// share the process, so a CPU profile (-cpuprofile) shows both; the p99 is
// of the whole round trip.
func BenchmarkUpdateStatus(b *testing.B) {
	root := managertest.NewRoot(b, "1.0.0")
	// The release repository is never asked: a closed port will do.
	s := start(b, root, "http://"+managertest.ClosedPort(b)+"/{ref}/info.json", options{})
	st := statusfile.Status{State: statusfile.Installing, Progress: 44, Description: "Installing files", UpdateTo: "v1.1.0"}
	managertest.WriteStatus(b, root, st)
	want := `{"state":"installing","progress":44,"description":"Installing files","updateTo":"v1.1.0"}` + "\n"
	url := s.url + "/v1/system/update-status"
	awaitAnswer(b, url, 200, strings.TrimSpace(want))

	for _, clients := range []int{16, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
			defer c.CloseIdleConnections()
			// RunParallel starts parallelism × GOMAXPROCS goroutines.
			b.SetParallelism(max(1, clients/runtime.GOMAXPROCS(0)))
			var mu sync.Mutex
			var all []time.Duration
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var lat []time.Duration
				for pb.Next() {
					begin := time.Now()
					code, body, err := get(c, url)
					lat = append(lat, time.Since(begin))
					if err != nil || code != http.StatusOK || body != want {
						b.Errorf("GET: %d %q %v", code, body, err)
						return
					}
				}
				mu.Lock()
				all = append(all, lat...)
				mu.Unlock()
			})
			b.StopTimer()
			if len(all) > 0 {
				slices.Sort(all)
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
			}
		})
	}
}

// get makes one request and reads the whole answer, so the connection is
// reused.
func get(c *http.Client, url string) (int, string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var sb strings.Builder
	_, err = io.Copy(&sb, resp.Body)
	return resp.StatusCode, sb.String(), err
}
