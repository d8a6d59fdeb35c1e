package fleetsim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hoist-dev/hoist/internal/nginx"
)

// NginxBin is the nginx the simulation runs (Debian's).
const NginxBin = nginx.Bin

// fleetNginx is how the simulation's nginx serves: the log has what Hit
// needs, one request per line. A connection is kept only after a probe of
// timestamp.json, the request a node repeats: a real node, checking
// hourly, would open a new one each time, but on the compressed clock
// 10,000 connections a few seconds apart cost the machine more than the
// requests, while the HTTP bytes counted are the same. Other connections
// close after their request.
func fleetNginx(root string) nginx.Config {
	return nginx.Config{
		Root:      root,
		HTTP:      "  keepalive_timeout 0;",
		LogFormat: "'$msec $status $request_length $bytes_sent $uri'",
		Server: "    location /metadata/ { add_header Cache-Control no-cache; }\n" +
			"    location = /metadata/timestamp.json { add_header Cache-Control no-cache; keepalive_timeout 30s; }",
		Workers:      2,
		Connections:  16384,
		RlimitNofile: 40000,
	}
}

// startNginx serves root from prefix (config, log, temp files) until ctx
// ends or Stop is called.
func startNginx(ctx context.Context, prefix, root string) (*nginx.Server, error) {
	return nginx.Start(ctx, prefix, fleetNginx(root))
}

// nginxHits reads the access log of srv.
func nginxHits(srv *nginx.Server) ([]Hit, error) {
	f, err := os.Open(srv.AccessLog())
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var hits []Hit
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		h, err := parseLogLine(sc.Text())
		if err != nil {
			return nil, err
		}
		hits = append(hits, h)
	}
	return hits, sc.Err()
}

// parseLogLine reads "$msec $status $request_length $bytes_sent $uri".
func parseLogLine(line string) (Hit, error) {
	f := strings.Fields(line)
	if len(f) != 5 {
		return Hit{}, fmt.Errorf("access log line %q", line)
	}
	msec, err1 := strconv.ParseFloat(f[0], 64)
	status, err2 := strconv.Atoi(f[1])
	in, err3 := strconv.ParseInt(f[2], 10, 64)
	out, err4 := strconv.ParseInt(f[3], 10, 64)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return Hit{}, fmt.Errorf("access log line %q: %w", line, err)
	}
	at := time.UnixMilli(int64(msec*1000 + 0.5))
	return Hit{At: at, Path: f[4], Status: status, Bytes: in + out}, nil
}
