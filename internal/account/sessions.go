package account

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sync"
	"time"
)

// MaxSessions caps the sessions held; past it the oldest one ends.
const MaxSessions = 256

// Sessions are the signed-in browsers, in memory only.
type Sessions struct {
	idle, absolute time.Duration

	mu sync.Mutex // guards m
	m  map[[sha256.Size]byte]session
}

type session struct {
	created, seen time.Time
}

// NewSessions returns an empty set whose sessions end after idle without
// use, and absolute after sign-in whatever happens.
func NewSessions(idle, absolute time.Duration) *Sessions {
	return &Sessions{idle: idle, absolute: absolute, m: map[[sha256.Size]byte]session{}}
}

// key is what the map holds: a hash of the id, so a lookup's timing says
// nothing about the ids.
func key(id string) [sha256.Size]byte { return sha256.Sum256([]byte(id)) }

// Create starts a session and returns its id: 256 random bits, base64url.
func (s *Sessions) Create(now time.Time) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("session id: %w", err)
	}
	id := base64.RawURLEncoding.EncodeToString(b[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(now)
	if len(s.m) >= MaxSessions {
		s.dropOldest()
	}
	s.m[key(id)] = session{created: now, seen: now}
	return id, nil
}

// Valid reports whether id is a live session, and counts this as its use.
func (s *Sessions) Valid(id string, now time.Time) bool {
	if id == "" {
		return false
	}
	k := key(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.m[k]
	if !ok {
		return false
	}
	if s.expired(se, now) {
		delete(s.m, k)
		return false
	}
	se.seen = now
	s.m[k] = se
	return true
}

// End ends the session id, if any.
func (s *Sessions) End(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key(id))
}

// EndAll ends every session, as after a password change.
func (s *Sessions) EndAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.m)
}

func (s *Sessions) expired(se session, now time.Time) bool {
	return now.Sub(se.seen) >= s.idle || now.Sub(se.created) >= s.absolute
}

func (s *Sessions) prune(now time.Time) {
	for k, se := range s.m {
		if s.expired(se, now) {
			delete(s.m, k)
		}
	}
}

func (s *Sessions) dropOldest() {
	var oldest [sha256.Size]byte
	var at time.Time
	for k, se := range s.m {
		if at.IsZero() || se.created.Before(at) {
			oldest, at = k, se.created
		}
	}
	delete(s.m, oldest)
}
