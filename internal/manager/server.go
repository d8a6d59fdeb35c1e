package manager

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"
	"golang.org/x/net/netutil"

	"github.com/hoist-dev/hoist/internal/discovery"
	"github.com/hoist-dev/hoist/internal/notify"
	"github.com/hoist-dev/hoist/internal/request"
)

// Config is what a Server needs; the zero values of the optional fields
// are the defaults.
type Config struct {
	Root   string // the app root (in Docker: the mount point of its parts)
	Token  string // the bearer token API clients must send
	Finder *discovery.Finder
	Log    *logrus.Logger

	CheckInterval time.Duration // automatic check period; 0: off
	AutoUpdate    bool          // the automatic check also requests the update
	Poll          time.Duration // status re-read period behind fsnotify; 0: 2s
	// MaxConns caps open client connections, idle ones included (0:
	// DefaultMaxConns); past it, new connections wait to be accepted.
	MaxConns int
	// IdleTimeout closes a keep-alive connection idle this long (0:
	// DefaultIdleTimeout).
	IdleTimeout time.Duration
	// TLSProxy (--behind-tls-proxy) trusts X-Forwarded-Proto and X-Forwarded-For: the
	// manager is served through an HTTPS reverse proxy.
	TLSProxy bool
}

// Defaults of the connection limits: a node's manager serves a handful of
// browser tabs and scripts, while each idle connection costs memory
// (thousands of them cost tens of MB).
const (
	DefaultMaxConns    = 128
	DefaultIdleTimeout = 30 * time.Second
)

// maxBody caps request bodies; the largest valid one is {"version":"vX.Y.Z"}
// (the settings PUT has its own cap: bodyCap).
const maxBody = 4 << 10

// Server is a running manager's state.
type Server struct {
	cfg    Config
	log    *logrus.Logger
	root   *os.Root     // the app root, for info.json and the failure report
	dirs   request.Dirs // statuses/ and events/signals/
	token  [sha256.Size]byte
	status *statusCache
	met    *metrics
	static http.Handler
	owner  owner
	prefs  *prefs
	notify *notifications
}

// New opens the app root's directories and returns a Server. Close it.
func New(cfg Config) (*Server, error) {
	if cfg.Token == "" {
		return nil, errors.New("no API token")
	}
	if cfg.Finder == nil || cfg.Log == nil {
		return nil, errors.New("manager: Finder and Log are required")
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 2 * time.Second
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	root, err := os.OpenRoot(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("app root: %w", err)
	}
	dirs, err := request.OpenDirs(cfg.Root)
	if err != nil {
		root.Close()
		return nil, err
	}
	s := &Server{
		cfg:    cfg,
		log:    cfg.Log,
		root:   root,
		dirs:   dirs,
		token:  sha256.Sum256([]byte(cfg.Token)),
		static: staticHandler(),
		owner:  newOwner(),
		prefs:  newPrefs(),
	}
	s.status = &statusCache{dir: dirs.Statuses, hub: newHub()}
	s.met = newMetrics(s)
	s.notify = newNotifications(notify.New(notify.Options{Dir: dirs.Statuses, Targets: s.notifyTargets, Log: cfg.Log}))
	return s, nil
}

// Close releases the directories.
func (s *Server) Close() {
	s.dirs.Close()
	s.root.Close()
}

// route is one entry of the API: method and path, whether it needs the
// token, and the handler, which returns errors instead of writing them.
type route struct {
	method, pattern string
	public          bool
	handle          func(w http.ResponseWriter, r *http.Request) error
}

// Handler returns the manager's HTTP handler with its own mux.
func (s *Server) Handler() http.Handler {
	routes := []route{
		{http.MethodGet, "/v1/system/info", false, s.info},
		{http.MethodGet, "/v1/system/get-update", false, s.getUpdate},
		{http.MethodPost, "/v1/system/update", false, s.update},
		{http.MethodGet, "/v1/system/update-status", true, s.updateStatus},
		{http.MethodGet, "/v1/system/events", false, s.events},
		{http.MethodGet, "/v1/system/update-log", false, s.updateLog},
		{http.MethodPost, "/v1/system/rollback", false, s.rollback},
		{http.MethodGet, "/v1/system/history", false, s.history},
		{http.MethodGet, "/v1/system/history/{id}/log", false, s.historyLog},
		{http.MethodPost, "/v1/system/notify/test", false, s.notifyTest},
		{http.MethodGet, "/metrics", false, s.metrics},
		{http.MethodPost, "/v1/account/login", true, s.login},
		{http.MethodPost, "/v1/account/logout", true, s.logout},
		{http.MethodGet, "/v1/account", true, s.accountInfo},
		{"", settingsPath, false, s.settingsRoute},
		{http.MethodGet, "/healthz", true, s.healthz},
		{http.MethodGet, "/{$}", true, s.page},
		{http.MethodGet, "/static/", true, s.staticFile},
		{"", "/", true, func(http.ResponseWriter, *http.Request) error { return errNotFound }},
	}
	mux := http.NewServeMux()
	for _, rt := range routes {
		mux.Handle(rt.pattern, s.wrap(rt))
	}
	return mux
}

// wrap is the middleware every route goes through: recover, headers,
// request count, method, token, body cap, and the one error-to-answer path.
func (s *Server) wrap(rt route) http.Handler {
	counter := s.met.requests.MustCurryWith(prometheus.Labels{"handler": rt.pattern})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.WithFields(logrus.Fields{"path": r.URL.Path, "panic": v}).Errorf("handler panicked\n%s", debug.Stack())
				s.writeError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		securityHeaders(w.Header())
		if err := s.serve(rt, w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
	return promhttp.InstrumentHandlerCounter(counter, h)
}

func (s *Server) serve(rt route, w http.ResponseWriter, r *http.Request) error {
	if rt.method != "" && r.Method != rt.method && (rt.method != http.MethodGet || r.Method != http.MethodHead) {
		allow := rt.method
		if rt.method == http.MethodGet {
			allow += ", " + http.MethodHead
		}
		w.Header().Set("Allow", allow)
		return httpErrorf(http.StatusMethodNotAllowed, "method %s not allowed; use %s", r.Method, rt.method)
	}
	bearer := s.authorized(r)
	if !bearer {
		if err := s.checkOrigin(r); err != nil {
			return err
		}
	}
	if !rt.public && !bearer && !s.signedIn(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="hoist-manager"`)
		return errUnauthorized
	}
	r.Body = http.MaxBytesReader(w, r.Body, bodyCap(rt))
	return rt.handle(w, r)
}

// authorized compares the bearer token in constant time; hashing both sides
// first also hides the token's length.
func (s *Server) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	sum := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(sum[:], s.token[:]) == 1
}

// security is the headers every answer carries, built once. securityHeaders
// shares the value slices: net/http only reads them, and Set replaces a
// value rather than writing into it.
var security = http.Header{
	"Content-Security-Policy": {"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
	"X-Content-Type-Options":  {"nosniff"},
	"X-Frame-Options":         {"DENY"},
	"Referrer-Policy":         {"no-referrer"},
	"Cache-Control":           {"no-store"},
}

func securityHeaders(h http.Header) {
	for k, v := range security {
		h[k] = v
	}
}

// Run serves on ln and runs the status watcher and the automatic check
// until ctx ends, then shuts down gracefully.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { s.watchStatus(ctx) })
	wg.Go(func() { s.checkLoop(ctx) })
	wg.Go(func() { s.notify.Run(ctx) })
	s.watchNotify(ctx, &wg)

	errLog := s.log.WriterLevel(logrus.WarnLevel)
	defer errLog.Close()
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      60 * time.Second, // event streams lift it for themselves
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          log.New(errLog, "", 0),
		// Requests inherit ctx, so event streams end when the server stops.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(netutil.LimitListener(ln, s.cfg.MaxConns)) }()
	s.log.WithField("addr", ln.Addr().String()).Info("listening")
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdown, done := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer done()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
