package faults_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/faults/netfault"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/testutil/daemon"
	"github.com/hoist-dev/hoist/internal/testutil/testbin"
)

// releaseServer serves the site's repository over smart HTTP behind a
// fault proxy and an HTTP front that can answer 500.
type releaseServer struct {
	proxy *netfault.Proxy
	fail  atomic.Value // string: "" (pass), "all" or "upload-pack": answer 500
	url   string       // the repository's URL as the engine uses it
}

func newReleaseServer(t *testing.T, s *site) *releaseServer {
	t.Helper()
	git, err := url.Parse(s.repo.ServeHTTP(t))
	if err != nil {
		t.Fatal(err)
	}
	rs := &releaseServer{}
	rs.fail.Store("")
	if rs.proxy, err = netfault.Start(git.Host); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.proxy.Close() })
	back := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: rs.proxy.Addr()})
	back.ErrorLog = log.New(io.Discard, "", 0) // the cuts are on purpose
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch rs.fail.Load().(string) {
		case "all":
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		case "upload-pack":
			if strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
				http.Error(w, "internal error", http.StatusInternalServerError)
				return
			}
		}
		back.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	rs.url = front.URL + git.Path
	return rs
}

// failedCleanly checks an apply that a network fault stopped: exit 1, the
// old release in place with nothing left behind, and a status saying the
// download failed, and why (want).
func failedCleanly(t *testing.T, s *site, root string, r testbin.Result, want string) {
	t.Helper()
	if r.Code != exitcode.Failure {
		t.Errorf("apply: %s", r)
	}
	if got := s.settled(t, root); got != "old" {
		t.Errorf("root holds the %s release", got)
	}
	st := readStatus(t, root)
	t.Logf("status: %s", st.Description)
	if st.State != statusfile.Failed || !strings.Contains(st.Description, "download v1.1.0") ||
		!strings.Contains(st.Description, want) || !strings.Contains(st.Description, "v1.0.0 is still installed") {
		t.Errorf("status %+v, want a failed download saying %q", st, want)
	}
}

// retried requests the update again with the server healthy: it must
// succeed. It returns how many bytes the retry downloaded.
func (rs *releaseServer) retried(t *testing.T, s *site, root string) int64 {
	t.Helper()
	rs.fail.Store("")
	rs.proxy.Set(netfault.Fault{})
	requestUpdate(t, root, s.to)
	if r := at(t, root, nil, "apply"); r.Code != 0 {
		t.Fatalf("retry: %s", r)
	}
	if got := s.settled(t, root); got != "new" {
		t.Fatalf("retry left the %s release", got)
	}
	return rs.proxy.Sent()
}

// TestNetworkFaults puts faults between the engine and the release server
// (git smart HTTP): the connection cut at several points of the clone, an
// HTTP 500 on every request or on the pack only, and a server that stalls.
// Each update fails cleanly with a status saying why, and a retry with the
// server healthy succeeds. The retry downloads everything again: the
// engine keeps no partial download (the clone goes to a temp dir that a
// failure removes).
func TestNetworkFaults(t *testing.T) {
	s := newSite(t, full)
	rs := newReleaseServer(t, s)
	s.setRepo(rs.url)
	clean := rs.retried(t, s, s.copy(filepath.Join(t.TempDir(), "app")))
	t.Logf("a clean update downloads %d bytes", clean)

	for _, frac := range []float64{0.01, 0.5, 0.99} {
		t.Run(fmt.Sprintf("cut after %.0f%%", frac*100), func(t *testing.T) {
			root := s.copy(filepath.Join(t.TempDir(), "app"))
			rs.proxy.Set(netfault.Fault{Kind: netfault.Cut, After: int64(frac * float64(clean))})
			requestUpdate(t, root, s.to)
			failedCleanly(t, s, root, at(t, root, nil, "apply"), "")
			if again := rs.retried(t, s, root); again != clean {
				t.Logf("the retry downloaded %d bytes, a clean update %d", again, clean)
			}
		})
	}
	for _, which := range []string{"all", "upload-pack"} {
		t.Run("HTTP 500 on "+which, func(t *testing.T) {
			root := s.copy(filepath.Join(t.TempDir(), "app"))
			rs.fail.Store(which)
			requestUpdate(t, root, s.to)
			failedCleanly(t, s, root, at(t, root, nil, "apply"), "500")
			rs.retried(t, s, root)
		})
	}
	t.Run("stall", func(t *testing.T) {
		// The engine gives a silent server fetch.DefaultStallTimeout (2
		// minutes) and has no setting to shorten it, so a short run stops
		// the stalled apply with SIGTERM after a few seconds, as an
		// operator or the supervisor's shutdown would; HOIST_TEST_LONG
		// waits for the stall timeout itself.
		root := s.copy(filepath.Join(t.TempDir(), "app"))
		rs.proxy.Set(netfault.Fault{Kind: netfault.Stall, After: clean / 2})
		requestUpdate(t, root, s.to)
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, testbin.Path(t, "hoist"), "apply", "--root", root)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		want := "transfer stalled"
		if !long() {
			want = "context canceled"
			daemon.Eventually(t, "the download to stall", func() bool { return rs.proxy.Sent() >= clean/2 })
			time.Sleep(2 * time.Second)
			cmd.Process.Signal(syscall.SIGTERM)
		}
		start := time.Now()
		cmd.Wait()
		t.Logf("apply ended %v after the stall was noticed (or SIGTERM)", time.Since(start).Round(time.Millisecond))
		failedCleanly(t, s, root, testbin.Result{Code: cmd.ProcessState.ExitCode(), Stderr: stderr.String()}, want)
		rs.retried(t, s, root)
	})
}
