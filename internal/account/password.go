// Package account is the node owner's sign-in: one password, stored as an
// argon2id hash in statuses/account.json (0600, manager-owned), sessions
// held in the manager's memory, and a per-client limiter for failed logins.
//
// The hash never leaves the file: nothing returns or logs it. Sessions are
// not persisted, so restarting the manager signs everyone out.
package account

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	Time      uint32 // passes
	MemoryKiB uint32
	Threads   uint8
}

// DefaultParams are RFC 9106's second recommended option with two lanes:
// 64 MiB and three passes took 0.35-0.7 s on a 2-core x86 build machine
// (about three times that is expected on a Raspberry Pi 4, not measured),
// acceptable for a sign-in and costly for a guesser.
func DefaultParams() Params { return Params{Time: 3, MemoryKiB: 64 << 10, Threads: 2} }

// Caps of a stored hash's parameters: the file is read on every login and
// must not make the manager allocate gigabytes.
const (
	maxTime      = 16
	maxMemoryKiB = 256 << 10
	saltLen      = 16
	keyLen       = 32
)

// ErrBadHash marks a stored hash that is not a valid argon2id string.
var ErrBadHash = errors.New("invalid password hash")

var b64 = base64.RawStdEncoding

// Hash returns password's argon2id hash with a random salt, PHC-encoded:
// $argon2id$v=19$m=65536,t=3,p=2$SALT$KEY.
func Hash(password string, p Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether password matches the encoded hash; the keys are
// compared in constant time.
func Verify(encoded, password string) (bool, error) {
	p, salt, key, err := decode(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

func decode(encoded string) (Params, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return Params{}, nil, nil, fmt.Errorf("%w: not $argon2id$v=%d$...", ErrBadHash, argon2.Version)
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return Params{}, nil, nil, fmt.Errorf("%w: parameters: %v", ErrBadHash, err)
	}
	if p.Time < 1 || p.Time > maxTime || p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxMemoryKiB || p.Threads < 1 {
		return Params{}, nil, nil, fmt.Errorf("%w: parameters out of range", ErrBadHash)
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return Params{}, nil, nil, fmt.Errorf("%w: salt", ErrBadHash)
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return Params{}, nil, nil, fmt.Errorf("%w: key", ErrBadHash)
	}
	return p, salt, key, nil
}
