package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/bench"
	"github.com/hoist-dev/hoist/internal/statusfile"
)

// statusPath is the endpoint measured: public, read on every page poll.
const statusPath = "/v1/system/update-status"

// apiBench is measurement 5: requests/s and p99 latency of GET
// /v1/system/update-status on hoist-manager against the fileserver helper
// serving the same status file with http.ServeFile, both driven by wrk on
// loopback. The baseline is the least any Go server can do for this
// request (open, stat, read, write the file), with the same runtime and
// kernel path as the manager, so the ratio is the manager's own cost.
func (b *suite) apiBench(ctx context.Context) ([]bench.Row, error) {
	dir := b.path("api")
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if _, err := b.run(ctx, b.work, b.hoist, "init", root, "--repo", "https://example.invalid/app.git", "--pub", b.pub); err != nil {
		return nil, err
	}
	// A status as it is during an update, written the way the engine does.
	sdir, err := os.OpenRoot(filepath.Join(root, approot.StatusesDir))
	if err != nil {
		return nil, err
	}
	want := statusfile.Status{State: statusfile.Installing, Progress: 44, Description: "Installing files", UpdateTo: "v1.1.0"}
	err = statusfile.Write(sdir, want)
	sdir.Close()
	if err != nil {
		return nil, err
	}
	status, err := os.ReadFile(filepath.Join(root, approot.StatusesDir, statusfile.Name))
	if err != nil {
		return nil, err
	}
	static := filepath.Join(dir, "update-status.json")
	if err := os.WriteFile(static, status, 0o644); err != nil {
		return nil, err
	}

	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	mgr, err := startDaemon(ctx, []string{b.manager, "--root", root, "--listen", addr,
		"--releases", "http://127.0.0.1:9/{ref}/info.json", "--check-interval", "0"},
		[]string{"HOIST_MANAGER_TOKEN=bench-token"}, filepath.Join(dir, "manager.log"), "hoist-manager starting")
	if err != nil {
		return nil, err
	}
	defer mgr.stop()
	fsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	fsrv, err := startDaemon(ctx, []string{b.fileserver, fsAddr, static}, nil, filepath.Join(dir, "fileserver.log"), "listening")
	if err != nil {
		return nil, err
	}
	defer fsrv.stop()
	servers := []struct {
		name string
		url  string
		d    *daemon
	}{{"hoist-manager", "http://" + addr + statusPath, mgr}, {"fileserver", "http://" + fsAddr + statusPath, fsrv}}
	for _, s := range servers {
		if err := waitHTTP(ctx, s.url, want); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
	}

	var rows []bench.Row
	for _, c := range []int{1, 16, 64} {
		var res [2]wrkResult
		for i, s := range servers {
			b.logf("5: wrk, %d connection(s), %s: %s", c, b.opt.wrkDuration, s.name)
			out, err := b.output(ctx, b.work, "wrk", "-t", strconv.Itoa(min(2, c)), "-c", strconv.Itoa(c),
				"-d", fmt.Sprintf("%.0fs", b.opt.wrkDuration.Seconds()), "--latency", s.url)
			if err != nil {
				return nil, err
			}
			if res[i], err = parseWrk(string(out)); err != nil {
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
		}
		// Requests/s at one connection is 1 ÷ round trip, bound by the
		// loopback and wrk sharing the cores; the throughput goal is for
		// concurrent clients.
		rateGoal := bench.Goal{}
		if c > 1 {
			rateGoal = bench.AtLeast(20000, bench.ReqPerSec)
		}
		rows = append(rows,
			bench.Row{Group: "5", Measure: fmt.Sprintf("GET update-status, %d client(s): requests/s", c), Unit: bench.ReqPerSec,
				Hoist: res[0].rate, Base: res[1].rate, Goal: rateGoal},
			bench.Row{Group: "5", Measure: fmt.Sprintf("GET update-status, %d client(s): p99", c), Unit: bench.Seconds,
				Hoist: res[0].p99.Seconds(), Base: res[1].p99.Seconds(), Goal: bench.AtMost(5e-3, bench.Seconds)})
	}
	hu, err := mgr.usage()
	if err != nil {
		return nil, err
	}
	fu, err := fsrv.usage()
	if err != nil {
		return nil, err
	}
	return append(rows, bench.Row{Group: "5", Measure: "RSS after the load", Unit: bench.Bytes, Hoist: float64(hu.RSS), Base: float64(fu.RSS)}), nil
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitHTTP waits until url answers 200 with the status want.
func waitHTTP(ctx context.Context, url string, want statusfile.Status) error {
	deadline := time.Now().Add(10 * time.Second)
	var last error
	for time.Now().Before(deadline) && ctx.Err() == nil {
		resp, err := http.Get(url)
		if err == nil {
			var body []byte
			body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %s", resp.Status)
			}
			if err == nil {
				if got, perr := statusfile.Parse(body); perr != nil || got != want {
					return fmt.Errorf("answers %q, not the status file", body)
				}
				return nil
			}
		}
		last = err
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("not answering: %v", last)
}

// wrkResult is what the bench reads from wrk's report.
type wrkResult struct {
	rate float64 // requests/s
	p99  time.Duration
}

var (
	wrkRate = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	wrkP99  = regexp.MustCompile(`(?m)^\s+99%\s+([0-9.]+)(us|ms|s)\s*$`)
	wrkBad  = regexp.MustCompile(`(?m)^\s+(Non-2xx or 3xx responses|Socket errors):.*$`)
)

// parseWrk reads requests/s and the 99th percentile latency from the
// report of `wrk --latency`. Non-2xx answers or socket errors fail it: a
// server answering errors fast is not fast.
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	if m := wrkBad.FindString(out); m != "" {
		return r, fmt.Errorf("wrk: %s", strings.TrimSpace(m))
	}
	rate, p99 := wrkRate.FindStringSubmatch(out), wrkP99.FindStringSubmatch(out)
	if rate == nil || p99 == nil {
		return r, errors.New("wrk: no Requests/sec or 99% latency in its report (was --latency given?)")
	}
	var err error
	if r.rate, err = strconv.ParseFloat(rate[1], 64); err != nil {
		return r, err
	}
	v, err := strconv.ParseFloat(p99[1], 64)
	if err != nil {
		return r, err
	}
	scale := map[string]float64{"us": 1e3, "ms": 1e6, "s": 1e9}[p99[2]]
	r.p99 = time.Duration(v * scale)
	return r, nil
}
