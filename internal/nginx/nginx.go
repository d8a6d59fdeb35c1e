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
const logFormat = `'{"method":"$request_method","uri":"$request_uri","status":$status,` +
	`"body_bytes":$body_bytes_sent,"range":"$http_range","authorization":"$http_authorization",` +
	`"if_none_match":"$http_if_none_match","if_modified_since":"$http_if_modified_since"}'`

// Setup is a server's configuration, written but not started.
type Setup struct {
	Addr      string   // host:port it will listen on
	Root      string   // the absolute path of the directory served
	Args      []string // nginx's arguments
	AccessLog string
}

// Prepare writes the configuration of a server of root into prefix, on a
// free loopback port. serverConfig, if not empty, is added inside the
// server block (e.g. "limit_rate 1m;" or a location with its own headers).
func Prepare(prefix, root, serverConfig string) (Setup, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return Setup{}, err
	}
	addr, err := freeAddr()
	if err != nil {
		return Setup{}, err
	}
	s := Setup{Addr: addr, Root: abs, AccessLog: filepath.Join(prefix, "access.log")}
	conf := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(conf, []byte(config(prefix, addr, abs, serverConfig)), 0o644); err != nil {
		return Setup{}, err
	}
	// -e stderr: nginx opens its error log before it reads the config, and
	// the compiled-in one is not ours to write.
	s.Args = []string{"-p", prefix, "-c", conf, "-e", "stderr"}
	return s, nil
}

func config(prefix, addr, root, serverConfig string) string {
	var b strings.Builder
	b.WriteString("daemon off;\nworker_processes 1;\n")
	if os.Geteuid() == 0 {
		// Workers would otherwise run as nobody, who cannot read a
		// private temp dir (mode 0700).
		b.WriteString("user root;\n")
	}
	fmt.Fprintf(&b, "pid %s;\nerror_log stderr;\nevents { worker_connections 256; }\nhttp {\n", filepath.Join(prefix, "nginx.pid"))
	b.WriteString("  types { application/json json; application/gzip gz; }\n  default_type application/octet-stream;\n  sendfile on;\n")
	fmt.Fprintf(&b, "  log_format hoist escape=json %s;\n  access_log %s hoist;\n", logFormat, filepath.Join(prefix, "access.log"))
	for _, tmp := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&b, "  %s_temp_path %s;\n", tmp, filepath.Join(prefix, tmp))
	}
	fmt.Fprintf(&b, "  server {\n    listen %s;\n    root %s;\n%s\n  }\n}\n", addr, root, serverConfig)
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

// Start serves root with nginx, its files under prefix, until Stop or the
// end of ctx.
func Start(ctx context.Context, prefix, root, serverConfig string) (*Server, error) {
	setup, err := Prepare(prefix, root, serverConfig)
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
