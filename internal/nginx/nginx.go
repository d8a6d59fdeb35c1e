// Package nginx serves a directory with a real nginx (Debian's
// /usr/sbin/nginx), the way a static release repository or a CDN origin
// serves it: Range requests, ETag and Last-Modified, sendfile. Tests run
// it through internal/testutil/nginx; the benchmark (hoistbench) with
// Start.
//
// Each server runs its own master process with a config, pid file, temp
// directories and access log under a prefix directory, on a loopback
// port. The access log is written one JSON object per request, so callers
// can tell what was fetched (ReadLog).
package nginx

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bin is the nginx binary that is run.
const Bin = "/usr/sbin/nginx"

// Request is one line of the access log.
type Request struct {
	Method string `json:"method"`
	URI    string `json:"uri"` // path and query as requested
	Status int    `json:"status"`
	// BodyBytes is what nginx sent of the body (for an aborted transfer,
	// what it had written to the socket).
	BodyBytes     int64  `json:"body_bytes"`
	Range         string `json:"range"` // the Range header, "" if none
	Authorization string `json:"authorization"`
	IfNoneMatch   string `json:"if_none_match"`
	IfModSince    string `json:"if_modified_since"`
}

// logFormat writes Request's fields; escape=json makes any header value a
// valid JSON string.
const logFormat = `escape=json '{"method":"$request_method","uri":"$request_uri","status":$status,` +
	`"body_bytes":$body_bytes_sent,"range":"$http_range","authorization":"$http_authorization",` +
	`"if_none_match":"$http_if_none_match","if_modified_since":"$http_if_modified_since"}'`

// Config is what a server serves and how. The zero values suit a test: one
// worker, 256 connections, the access log ReadLog reads.
type Config struct {
	Root string // the directory served
	// Server, if not empty, is added inside the server block (e.g.
	// "limit_rate 1m;" or a location with its own headers).
	Server string
	// HTTP, if not empty, is added inside the http block, before the
	// server (e.g. "keepalive_timeout 0;").
	HTTP string
	// LogFormat, if not empty, replaces the access log's format: the
	// parameters of nginx's log_format after its name. ReadLog reads only
	// the default one.
	LogFormat    string
	Workers      int // worker_processes; 0 is 1
	Connections  int // worker_connections of each worker; 0 is 256
	RlimitNofile int // worker_rlimit_nofile; 0 keeps nginx's (the process's limit)
}

// Setup is a server's configuration, written but not started.
type Setup struct {
	Addr      string   // host:port it will listen on
	Root      string   // the absolute path of the directory served
	Args      []string // nginx's arguments
	AccessLog string
}

// Prepare writes the configuration of a server of c into prefix, on a free
// loopback port.
func Prepare(prefix string, c Config) (Setup, error) {
	abs, err := filepath.Abs(c.Root)
	if err != nil {
		return Setup{}, err
	}
	addr, err := freeAddr()
	if err != nil {
		return Setup{}, err
	}
	c.Root = abs
	s := Setup{Addr: addr, Root: abs, AccessLog: filepath.Join(prefix, "access.log")}
	conf := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(conf, []byte(config(prefix, addr, c)), 0o644); err != nil {
		return Setup{}, err
	}
	// -e stderr: nginx opens its error log before it reads the config, and
	// the compiled-in one is not ours to write.
	s.Args = []string{"-p", prefix, "-c", conf, "-e", "stderr"}
	return s, nil
}

func config(prefix, addr string, c Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "daemon off;\nworker_processes %d;\n", cmp.Or(c.Workers, 1))
	if os.Geteuid() == 0 {
		// Workers would otherwise run as nobody, who cannot read a
		// private temp dir (mode 0700).
		b.WriteString("user root;\n")
	}
	if c.RlimitNofile > 0 {
		fmt.Fprintf(&b, "worker_rlimit_nofile %d;\n", c.RlimitNofile)
	}
	fmt.Fprintf(&b, "pid %s;\nerror_log stderr;\nevents { worker_connections %d; }\nhttp {\n",
		filepath.Join(prefix, "nginx.pid"), cmp.Or(c.Connections, 256))
	b.WriteString("  types { application/json json; application/gzip gz; }\n  default_type application/octet-stream;\n  sendfile on;\n")
	fmt.Fprintf(&b, "  log_format hoist %s;\n  access_log %s hoist;\n", cmp.Or(c.LogFormat, logFormat), filepath.Join(prefix, "access.log"))
	for _, tmp := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&b, "  %s_temp_path %s;\n", tmp, filepath.Join(prefix, tmp))
	}
	fmt.Fprintf(&b, "%s\n  server {\n    listen %s;\n    root %s;\n%s\n  }\n}\n", c.HTTP, addr, c.Root, c.Server)
	return b.String()
}

// freeAddr returns a loopback address with a port nobody listens on now.
// Another process may take it before nginx does; that is rare enough on a
// test machine to fail the start rather than retry.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Listening reports whether something accepts connections at addr.
func Listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// ReadLog returns the requests logged in the access log at path so far,
// oldest first. nginx writes a line when a request ends, so a transfer
// still running (or one whose client vanished, until nginx notices) is not
// listed yet.
func ReadLog(path string) ([]Request, error) {
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	var reqs []Request
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var r Request
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("access log line %q: %w", sc.Text(), err)
		}
		reqs = append(reqs, r)
	}
	return reqs, sc.Err()
}

// Server is an nginx started by Start.
type Server struct {
	URL   string // http://127.0.0.1:PORT, without a trailing slash
	setup Setup
	cmd   *exec.Cmd
	done  chan error
	stop  sync.Once
}

// Start serves c with nginx, its files under prefix, until Stop or the end
// of ctx.
func Start(ctx context.Context, prefix string, c Config) (*Server, error) {
	setup, err := Prepare(prefix, c)
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + setup.Addr, setup: setup, done: make(chan error, 1)}
	s.cmd = exec.CommandContext(ctx, Bin, setup.Args...)
	var stderr strings.Builder
	s.cmd.Stderr = &stderr
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("nginx: %w", err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	for deadline := time.Now().Add(10 * time.Second); !Listening(setup.Addr); time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("nginx exited: %v: %s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, errors.New("nginx did not start listening")
		}
	}
	return s, nil
}

// Stop ends nginx (SIGQUIT: it finishes the requests in flight and
// flushes its log) and waits for it, killing it after 10 s.
func (s *Server) Stop() {
	s.stop.Do(func() {
		s.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	})
}

// Requests returns the requests logged so far (see ReadLog).
func (s *Server) Requests() ([]Request, error) { return ReadLog(s.setup.AccessLog) }

// AccessLog is the path of the access log, for a Config.LogFormat of the
// caller's own.
func (s *Server) AccessLog() string { return s.setup.AccessLog }
