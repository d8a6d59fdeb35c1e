package objfetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hoist-dev/hoist/internal/clip"
	"github.com/hoist-dev/hoist/internal/redact"
)

const (
	// maxBackoff caps the doubling wait between retries.
	maxBackoff = 30 * time.Second
	// maxRetryAfter caps a server's Retry-After: an update holds the
	// node's lock while it waits, and retries are bounded anyway.
	maxRetryAfter = time.Minute
	// maxErrorBody bounds what is read of an error answer for its message.
	maxErrorBody = 512
)

// StatusError is an HTTP answer other than 200, 206 (or 416 to a resumed
// request).
type StatusError struct {
	Code int
	// RetryAfter is the server's Retry-After, capped; 0 if absent.
	RetryAfter time.Duration
	Body       string // the start of the answer's body, for the message
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("server answered %d %s", e.Code, http.StatusText(e.Code))
	if e.Body != "" {
		msg += fmt.Sprintf(": %q", e.Body)
	}
	return msg
}

// Transient reports whether a later attempt may succeed: a timeout, too
// many requests, or a server error.
func (e *StatusError) Transient() bool {
	return e.Code == http.StatusRequestTimeout || e.Code == http.StatusTooManyRequests || e.Code >= 500
}

// statusError describes resp, permanent unless it is transient.
func statusError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &StatusError{
		Code:       resp.StatusCode,
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now()),
		Body:       clip.String(strings.TrimSpace(string(body))),
	}
	if e.Transient() {
		return e
	}
	return permanent{e}
}

// retryAfter parses a Retry-After value, seconds or an HTTP date, capped at
// maxRetryAfter; 0 if absent or invalid.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(min(max(secs, 0), int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// backoff is the wait before retry number n (1-based): the server's
// Retry-After if it gave one, else MinBackoff doubled n-1 times, capped,
// with the upper half jittered so that many nodes do not retry in step.
func (c *Client) backoff(n int, err error) time.Duration {
	var se *StatusError
	if errors.As(err, &se) && se.RetryAfter > 0 {
		return se.RetryAfter
	}
	d := c.minBackoff << min(n-1, 20)
	if d <= 0 || d > maxBackoff {
		d = maxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

// errRestart asks for an immediate new attempt from byte 0.
var errRestart = errors.New("restart from the first byte")

// permanent marks an error that no retry can cure.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// withRetries calls attempt until it succeeds, fails for good, or has used
// up the retries, waiting between attempts; errRestart starts a new attempt
// at once (the attempt's state makes that bounded).
func (c *Client) withRetries(ctx context.Context, rawURL string, attempt func(context.Context, *stallTimer) error) error {
	for failures := 0; ; {
		err := c.try(ctx, attempt)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, errRestart):
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		}
		var p permanent
		if errors.As(err, &p) {
			return err
		}
		if failures >= c.retries {
			return fmt.Errorf("%w (%d attempts)", err, failures+1)
		}
		failures++
		wait := c.backoff(failures, err)
		c.log.WithError(err).WithField("url", redact.URL(rawURL)).
			Warnf("download failed; retry %d of %d in %s", failures, c.retries, wait.Round(time.Millisecond))
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
