package manager

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/manager/managertest"
)

// The automatic check loop obeys a release server's Retry-After: asked to
// wait an hour, it does not come back every interval.
func TestCheckLoopHonoursRetryAfter(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	root := managertest.NewRoot(t, "1.0.0")
	s := start(t, root, srv.URL+"/{ref}/info.json", options{checkInterval: 20 * time.Millisecond})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.logs.String(), "automatic check failed") {
		if time.Now().After(deadline) {
			t.Fatalf("no failed check in the log:\n%s", s.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // 15 intervals
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests to a server that said Retry-After: 3600, want 1", n)
	}
	if !strings.Contains(s.logs.String(), "retry_in=1h") {
		t.Errorf("the log does not say when the next check comes:\n%s", s.logs.String())
	}
}
