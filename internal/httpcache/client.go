package httpcache

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hoist-dev/hoist/internal/safefs"
)

// Entry is what a Store remembers of one URL's last good answer.
type Entry struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	Body         []byte `json:"body"`
}

// validated reports whether e can be revalidated: a server sent a validator.
func (e Entry) validated() bool { return e.ETag != "" || e.LastModified != "" }

// Store remembers entries by key. Implementations are safe for concurrent use.
type Store interface {
	// Load returns key's entry; false when there is none.
	Load(key string) (Entry, bool)
	// Save remembers e under key.
	Save(key string, e Entry) error
}

// Response is a good answer: 200, or 304 with the remembered body.
type Response struct {
	Body        []byte
	NotModified bool        // the server answered 304: Body is the remembered one
	Header      http.Header // this answer's headers
	// CacheErr is why this answer could not be remembered (a full request
	// next time); the answer itself is good.
	CacheErr error
}

// StatusError is an answer other than 200 or 304.
type StatusError struct {
	Code    int
	Status  string        // e.g. "503 Service Unavailable"
	Wait    time.Duration // Retry-After on a 429 or 503
	HasWait bool
}

func (e *StatusError) Error() string { return "HTTP " + e.Status }

// RetryAfter returns the wait the server asked for, if it did.
func (e *StatusError) RetryAfter() (time.Duration, bool) { return e.Wait, e.HasWait }

// Client makes conditional GETs.
type Client struct {
	http    *http.Client
	store   Store
	maxBody int64
}

// New returns a Client that sends requests with hc, remembers answers in
// store and refuses bodies over maxBody bytes.
func New(hc *http.Client, store Store, maxBody int64) *Client {
	return &Client{http: hc, store: store, maxBody: maxBody}
}

// Get fetches url, sending header (e.g. Authorization) and the validators of
// the remembered answer. A 304 returns the remembered body; a 200 returns its
// body, remembered when it came with a validator. Any other status is a
// *StatusError; a body over the limit is safefs.ErrTooLarge.
func (c *Client) Get(ctx context.Context, url string, header http.Header) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	old, have := c.store.Load(url)
	have = have && old.validated()
	if have {
		if old.ETag != "" {
			req.Header.Set("If-None-Match", old.ETag)
		}
		if old.LastModified != "" {
			req.Header.Set("If-Modified-Since", old.LastModified)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && have:
		// Drain a little so the connection can be reused.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return &Response{Body: old.Body, NotModified: true, Header: resp.Header}, nil
	case resp.StatusCode != http.StatusOK:
		return nil, statusError(resp)
	}
	body, err := safefs.ReadCapped(resp.Body, "HTTP answer", c.maxBody)
	if err != nil {
		return nil, err
	}
	out := &Response{Body: body, Header: resp.Header}
	e := Entry{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"), Body: body}
	if e.validated() {
		if err := c.store.Save(url, e); err != nil {
			out.CacheErr = fmt.Errorf("remembering the answer: %w", err)
		}
	}
	return out, nil
}

// statusError describes resp, with its Retry-After when it asks to wait.
func statusError(resp *http.Response) *StatusError {
	e := &StatusError{Code: resp.StatusCode, Status: resp.Status}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		e.Wait, e.HasWait = RetryAfter(resp)
	}
	return e
}
