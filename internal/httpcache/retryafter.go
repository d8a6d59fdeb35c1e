package httpcache

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxRetryAfter caps the wait a server can ask for, so a wrong or hostile
// header cannot stop a node's checks for longer.
const MaxRetryAfter = 6 * time.Hour

// RetryAfter parses resp's Retry-After header: delay-seconds or an HTTP date
// (RFC 9110 §10.2.3), capped at MaxRetryAfter. A date is measured from the
// answer's own Date header when it has one (both come from the server's
// clock), else from now. A date in the past is a wait of 0. False when the
// header is absent or malformed.
func RetryAfter(resp *http.Response) (time.Duration, bool) {
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.ParseUint(v, 10, 63); err == nil {
		if secs > uint64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true
		}
		d = time.Duration(secs) * time.Second
	} else {
		at, err := http.ParseTime(v)
		if err != nil {
			return 0, false
		}
		now := time.Now()
		if date, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			now = date
		}
		d = at.Sub(now)
	}
	return min(max(d, 0), MaxRetryAfter), true
}

// ServerWait returns the Retry-After wait carried by an error in err's
// chain (a *StatusError, or any error with the same RetryAfter method).
func ServerWait(err error) (time.Duration, bool) {
	var w interface{ RetryAfter() (time.Duration, bool) }
	if errors.As(err, &w) {
		return w.RetryAfter()
	}
	return 0, false
}
