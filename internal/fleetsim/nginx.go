package fleetsim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// NginxBin is the nginx the simulation runs (Debian's).
const NginxBin = "/usr/sbin/nginx"

// nginx serves a directory with a real nginx and reads its access log.
type nginx struct {
	url       string
	accessLog string
	cmd       *exec.Cmd
	done      chan error
	stopOnce  sync.Once
}

// nginxConfig: the log has what Hit needs, one request per line. A
// connection is kept only after a probe of timestamp.json, the request a
// node repeats: a real node, checking hourly, would open a new one each
// time, but on the compressed clock 10,000 connections a few seconds
// apart cost the machine more than the requests, while the HTTP bytes
// counted are the same. Other connections close after their request.
const nginxConfig = `daemon off;
worker_processes 2;
%spid %s/nginx.pid;
error_log stderr;
worker_rlimit_nofile 40000;
events { worker_connections 16384; }
http {
  types { application/json json; }
  default_type application/octet-stream;
  sendfile on;
  keepalive_timeout 0;
  log_format fleet '$msec $status $request_length $bytes_sent $uri';
  access_log %s fleet;
  client_body_temp_path %s/client_body;
  proxy_temp_path %s/proxy;
  fastcgi_temp_path %s/fastcgi;
  uwsgi_temp_path %s/uwsgi;
  scgi_temp_path %s/scgi;
  server {
    listen %s;
    root %s;
    location /metadata/ { add_header Cache-Control no-cache; }
    location = /metadata/timestamp.json { add_header Cache-Control no-cache; keepalive_timeout 30s; }
  }
}
`

// startNginx serves root from prefix (config, log, temp files) until ctx
// ends or stop is called.
func startNginx(ctx context.Context, prefix, root string) (*nginx, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close() // nginx binds it; another process taking it first fails the start
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;\n" // workers would run as nobody, who cannot read prefix
	}
	n := &nginx{url: "http://" + addr, accessLog: filepath.Join(prefix, "access.log"), done: make(chan error, 1)}
	conf := fmt.Sprintf(nginxConfig, user, prefix, n.accessLog, prefix, prefix, prefix, prefix, prefix, addr, root)
	confFile := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	n.cmd = exec.CommandContext(ctx, NginxBin, "-p", prefix, "-c", confFile, "-e", "stderr")
	var stderr strings.Builder
	n.cmd.Stderr = &stderr
	if err := n.cmd.Start(); err != nil {
		return nil, fmt.Errorf("nginx: %w", err)
	}
	go func() { n.done <- n.cmd.Wait() }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return n, nil
		}
		select {
		case err := <-n.done:
			return nil, fmt.Errorf("nginx exited: %v: %s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			n.stop()
			return nil, errors.New("nginx did not start listening")
		}
	}
}

// stop ends nginx (SIGQUIT: it finishes the requests in flight and
// flushes its log) and waits for it.
func (n *nginx) stop() {
	n.stopOnce.Do(func() {
		n.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-n.done:
		case <-time.After(10 * time.Second):
			n.cmd.Process.Kill()
			<-n.done
		}
	})
}

// hits reads the access log.
func (n *nginx) hits() ([]Hit, error) {
	f, err := os.Open(n.accessLog)
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
