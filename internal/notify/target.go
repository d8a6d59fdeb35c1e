package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/nicholas-fedor/shoutrrr/pkg/router"

	"github.com/hoist-dev/hoist/internal/redact"
	"github.com/hoist-dev/hoist/internal/settings"
)

// TargetID names a target without its URL, which often carries a secret.
func TargetID(rawURL string) string {
	sum := sha256.Sum256([]byte(rawURL))
	return hex.EncodeToString(sum[:8])
}

// Redact shows a target as the settings show it, scheme and host: the user
// info, path and query of a notification URL may all be secrets (a Discord
// token, an ntfy topic, a webhook's Authorization header).
func Redact(rawURL string) string { return settings.RedactURL(rawURL) }

// Sender delivers message to the target rawURL. Its errors must not quote
// the URL's secrets. The Notifier never cancels a send it started (see
// deliver), so a Sender bounds its own time.
type Sender func(ctx context.Context, rawURL, message string) error

// Shoutrrr returns the Sender for every service shoutrrr knows; one send
// gives up after timeout (shoutrrr takes no context).
func Shoutrrr(timeout time.Duration) Sender {
	return func(_ context.Context, rawURL, message string) error {
		r, err := router.New(nil, rawURL)
		if err != nil {
			return scrub(err, rawURL)
		}
		r.Timeout = timeout
		return scrub(errors.Join(r.Send(message, nil)...), rawURL)
	}
}

// CheckService reports whether shoutrrr has a service for rawURL's scheme
// ("generic+https" is generic's), without sending or connecting: settings
// check only the URL's form, and a typo would otherwise show only when an
// event fails to go out. Its message never repeats the URL.
func CheckService(rawURL string) error {
	var r router.ServiceRouter
	scheme, _, err := r.ExtractServiceName(rawURL)
	if err != nil {
		return errors.New("not a URL")
	}
	if _, err := r.NewService(scheme); err != nil {
		services := r.ListServices()
		slices.Sort(services)
		return fmt.Errorf("no notification service %q; shoutrrr has %s", scheme, strings.Join(services, ", "))
	}
	return nil
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
