package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/nicholas-fedor/shoutrrr/pkg/router"

	"github.com/hoist-dev/hoist/internal/redact"
)

// TargetID names a target without its URL, which often carries a secret.
func TargetID(rawURL string) string {
	sum := sha256.Sum256([]byte(rawURL))
	return hex.EncodeToString(sum[:8])
}

// Redact shows a target as its scheme and host only: the user info, path
// and query of a notification URL may all be secrets (a Discord token, an
// ntfy topic, a webhook's Authorization header).
func Redact(rawURL string) string {
	scheme, rest, ok := strings.Cut(redact.URL(rawURL), "://")
	if !ok {
		return "(not a URL)"
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return scheme + "://" + rest
}

// Sender delivers message to the target rawURL. Its errors must not quote
// the URL's secrets.
type Sender func(ctx context.Context, rawURL, message string) error

// Shoutrrr returns the Sender for every service shoutrrr knows; one send
// gives up after timeout.
func Shoutrrr(timeout time.Duration) Sender {
	return func(ctx context.Context, rawURL, message string) error {
		r, err := router.New(nil, rawURL)
		if err != nil {
			return scrub(err, rawURL)
		}
		r.Timeout = timeout
		// shoutrrr takes no context: the send runs on and its result is
		// dropped when ctx ends first (the router's timeout ends it).
		done := make(chan error, 1)
		go func() { done <- errors.Join(r.Send(message, nil)...) }()
		select {
		case err := <-done:
			return scrub(err, rawURL)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// scrub returns err with every secret part of rawURL replaced: shoutrrr's
// errors quote the URL, whole or in parts.
func scrub(err error, rawURL string) error {
	if err == nil {
		return nil
	}
	text := err.Error()
	secrets := []string{rawURL}
	if u, perr := url.Parse(rawURL); perr == nil {
		pw, _ := u.User.Password()
		secrets = append(secrets, u.User.Username(), pw, u.Path, u.RawQuery, u.String())
	}
	for _, s := range secrets {
		if len(s) > 1 {
			text = strings.ReplaceAll(text, s, redact.Mask)
		}
	}
	return fmt.Errorf("%s: %s", Redact(rawURL), redact.String(text))
}

// Validate tells whether rawURL is a notification URL shoutrrr can send
// to; its error shows no secret of the URL.
func Validate(rawURL string) error {
	_, err := router.New(nil, rawURL)
	return scrub(err, rawURL)
}
