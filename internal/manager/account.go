package manager

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hoist-dev/hoist/internal/account"
)

// Session and login limits. A restart of the manager ends every session.
const (
	sessionCookie   = "hoist_session"
	sessionIdle     = 24 * time.Hour
	sessionAbsolute = 7 * 24 * time.Hour
	loginBurst      = 5                // failed logins a client may make at once,
	loginEvery      = 20 * time.Second // then one more each this often
)

// owner is the sign-in state of a Server.
type owner struct {
	sessions *account.Sessions
	limiter  *account.Limiter
	cop      *http.CrossOriginProtection
	// verifying holds one slot: each argon2 check takes 64 MiB, so
	// concurrent logins wait for each other instead of exhausting memory.
	verifying chan struct{}

	mu   sync.Mutex // guards hash
	hash string     // the password hash the sessions were opened with
}

func newOwner() owner {
	return owner{
		sessions:  account.NewSessions(sessionIdle, sessionAbsolute),
		limiter:   account.NewLimiter(loginBurst, loginEvery),
		cop:       http.NewCrossOriginProtection(),
		verifying: make(chan struct{}, 1),
	}
}

// signedIn reports whether r carries a live session cookie. A new password
// (hoist-manager passwd) ends every session, and without a password file
// no cookie is accepted.
func (s *Server) signedIn(r *http.Request) bool {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return false
	}
	hash, err := account.LoadHash(s.dirs.Statuses)
	if err != nil {
		return false
	}
	s.owner.passwordIs(hash)
	return s.owner.sessions.Valid(c.Value, time.Now())
}

// passwordIs ends every session when hash is not the one they were opened
// with.
func (o *owner) passwordIs(hash string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.hash != hash {
		o.sessions.EndAll()
		o.hash = hash
	}
}

// checkOrigin refuses a cross-origin state change made by a browser: a
// request that relies on the cookie (or signs in or out) must come from the
// manager's own page. Bearer-token clients are not browsers and skip it.
func (s *Server) checkOrigin(r *http.Request) error {
	if err := s.owner.cop.Check(r); err != nil {
		return httpErrorf(http.StatusForbidden, "cross-origin request refused")
	}
	return nil
}

// secure reports whether the browser reached us over TLS, directly or
// through the trusted proxy --behind-tls-proxy names.
func (s *Server) secure(r *http.Request) bool {
	return r.TLS != nil || s.cfg.TLSProxy && r.Header.Get("X-Forwarded-Proto") == "https"
}

// client is the key login attempts are counted under: the peer address, or
// behind the trusted proxy the address it appended to X-Forwarded-For.
func (s *Server) client(r *http.Request) string {
	if s.cfg.TLSProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			return account.Client(strings.TrimSpace(last[strings.LastIndex(last, ",")+1:]))
		}
	}
	return account.Client(r.RemoteAddr)
}

func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, id string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: id, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secure(r),
	})
}

// loginBody is POST /v1/account/login's body.
type loginBody struct {
	Password string `json:"password"`
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	client := s.client(r)
	if ok, wait := s.owner.limiter.Allow(client, time.Now()); !ok {
		return tooManyLogins(w, wait)
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	var body loginBody
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	// The decoder's message could quote the password: it is not passed on.
	if dec.Decode(&body) != nil || dec.More() {
		return httpErrorf(http.StatusBadRequest, `body must be {"password":"..."}`)
	}
	hash, err := account.LoadHash(s.dirs.Statuses)
	if errors.Is(err, account.ErrNoPassword) {
		return httpErrorf(http.StatusConflict, "no password is set: run hoist-manager passwd on the host")
	}
	if err != nil {
		return err
	}
	ok, wait, err := s.verify(r, client, hash, body.Password)
	if err != nil {
		return err
	}
	if wait > 0 {
		return tooManyLogins(w, wait)
	}
	if !ok {
		s.log.WithField("client", client).Warn("failed sign-in")
		return httpErrorf(http.StatusUnauthorized, "wrong password")
	}
	s.owner.passwordIs(hash)
	id, err := s.owner.sessions.Create(time.Now())
	if err != nil {
		return err
	}
	s.setSessionCookie(w, r, id, int(sessionAbsolute/time.Second))
	s.log.WithField("client", client).Info("signed in")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// verify checks client's password against hash, one check at a time, and
// counts a failure. The limiter is asked again inside the slot, so guesses
// sent at once cannot all pass before the first failure counts; wait > 0
// means client must wait that long.
func (s *Server) verify(r *http.Request, client, hash, password string) (ok bool, wait time.Duration, err error) {
	select {
	case s.owner.verifying <- struct{}{}:
	case <-r.Context().Done():
		return false, 0, r.Context().Err()
	}
	defer func() { <-s.owner.verifying }()
	if allowed, wait := s.owner.limiter.Allow(client, time.Now()); !allowed {
		return false, wait, nil
	}
	ok, err = account.Verify(hash, password)
	if err == nil && !ok {
		s.owner.limiter.Fail(client, time.Now())
	}
	return ok, 0, err
}

// tooManyLogins is the answer to a client that must wait before its next
// try.
func tooManyLogins(w http.ResponseWriter, wait time.Duration) error {
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return httpErrorf(http.StatusTooManyRequests, "too many failed sign-ins; try again in %d s", secs)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.owner.sessions.End(c.Value)
	}
	s.setSessionCookie(w, r, "", -1)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// accountState is GET /v1/account's answer; public, so the page knows
// whether to show the password field.
type accountState struct {
	PasswordSet bool `json:"password_set"`
	SignedIn    bool `json:"signed_in"`
}

func (s *Server) accountInfo(w http.ResponseWriter, r *http.Request) error {
	_, err := account.LoadHash(s.dirs.Statuses)
	if err != nil && !errors.Is(err, account.ErrNoPassword) {
		return err
	}
	writeJSON(w, http.StatusOK, accountState{PasswordSet: err == nil, SignedIn: s.signedIn(r)})
	return nil
}
