// Package objfetch downloads content whose length and sha256 are known in
// advance from signed metadata (the objects and tarballs of a static release
// repository), so that nothing the server sends is trusted before it is
// checked:
//
//   - at most the signed length is read: a longer body, or a Content-Length
//     or Content-Range that announces another length, is refused before or
//     as soon as the extra byte arrives (endless-data attacks);
//   - the bytes are hashed while they stream to a partial file, which is
//     kept only if length and sha256 both match (ErrMismatch, the file
//     removed, otherwise). It is not flushed: a caller that keeps it makes
//     it durable before it names it (objcache.Adopt), and a torn partial
//     file left by a power cut fails its hash and is downloaded again;
//   - an interrupted download (connection cut, process killed) resumes the
//     partial file with a Range request, or restarts that object from its
//     first byte when the server ignores Range;
//   - transient failures (network errors, EOF mid-body, a stall, 408, 429,
//     5xx) are retried with exponential backoff and jitter, honouring
//     Retry-After; other 4xx answers are final.
//
// Fetch applies the same auth, retries and stall timeout to small files
// known only by a length bound (TUF metadata), read into memory.
//
// The token is sent as HTTP basic auth, as internal/repoauth does for git
// over HTTP; net/http drops it on a redirect to another host (a GitHub
// release asset redirects to a signed storage URL), and every retry starts
// again from the URL given, never a redirect target, whose signature may
// have expired. Errors name the URL through internal/redact.
package objfetch

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hoist-dev/hoist/internal/redact"
)

// Defaults of Options.
const (
	DefaultRetries      = 5
	DefaultStallTimeout = 2 * time.Minute
	DefaultMinBackoff   = time.Second
)

var (
	// ErrMismatch means the server's bytes are not the object named: another
	// length or another sha256.
	ErrMismatch = errors.New("download does not match its signed length and sha256")
	// ErrStalled means no byte arrived for the stall timeout.
	ErrStalled = errors.New("download stalled")
	// ErrRewound means Stream had to start the download again from its
	// first byte after its writer got some: the writer's bytes are not the
	// object's. The partial file is kept for Get to finish.
	ErrRewound = errors.New("download restarted from its first byte while streaming")
)

// Options configure a Client. The zero value is usable.
type Options struct {
	// HTTP sends the requests; nil means a client of its own with
	// net/http's default transport settings (the stall timeout bounds each
	// wait).
	HTTP *http.Client
	// Token, if not empty, is sent as HTTP auth.
	Token string
	// Retries bounds the retries of one object after a transient failure
	// (download_retries); 0 means DefaultRetries, negative means none.
	Retries int
	// StallTimeout aborts an attempt that receives nothing for this long:
	// no answer to the request, or no byte of the body (0 means
	// DefaultStallTimeout). A stall is a transient failure.
	StallTimeout time.Duration
	// MinBackoff is the wait before the first retry, doubled for each
	// further one up to maxBackoff, with jitter (0 means DefaultMinBackoff).
	MinBackoff time.Duration
	// Log, if not nil, is told about each retry.
	Log logrus.FieldLogger
	// Progress, if not nil, is called with the change of the bytes held:
	// positive as bytes are written (including those of a partial file
	// found at the start), negative when a partial file is discarded. It
	// is called from the downloading goroutine (several at once under
	// GetAll), so it must be safe for concurrent use.
	Progress func(delta int64)
}

// Client downloads content whose length and sha256 are known. It is safe
// for concurrent use.
type Client struct {
	http       *http.Client
	token      string
	retries    int
	stall      time.Duration
	minBackoff time.Duration
	log        logrus.FieldLogger
	progress   func(int64)
}

// New returns a Client with o's settings, defaults filled in.
func New(o Options) *Client {
	c := &Client{
		http: o.HTTP, token: o.Token, retries: o.Retries, stall: o.StallTimeout,
		minBackoff: o.MinBackoff, log: o.Log, progress: o.Progress,
	}
	if c.http == nil {
		c.http = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	switch {
	case c.retries == 0:
		c.retries = DefaultRetries
	case c.retries < 0:
		c.retries = 0
	}
	if c.stall <= 0 {
		c.stall = DefaultStallTimeout
	}
	if c.minBackoff <= 0 {
		c.minBackoff = DefaultMinBackoff
	}
	if c.log == nil {
		l := logrus.New()
		l.Out = io.Discard
		c.log = l
	}
	if c.progress == nil {
		c.progress = func(int64) {}
	}
	return c
}

// Get makes the file partial hold exactly the object at url: size bytes
// with sha256 sha256hex (lowercase hex). A partial file left by an earlier
// run is resumed; a complete and correct one is kept without a request.
// On success the file has mode 0600 and is not flushed (see the package
// comment); flushing and renaming it into place are the caller's job. On ErrMismatch the file is removed; after any other error
// it is kept for the next run to resume.
func (c *Client) Get(ctx context.Context, url string, size int64, sha256hex string, partial string) error {
	return c.get(ctx, url, size, sha256hex, partial, nil)
}

// Stream is Get that also writes the object's bytes, in order from the
// first, to w as they reach the partial file, those of a partial file
// left by an earlier run first: a consumer (an archive extraction) works
// while the object downloads, and an interrupted run still resumes. Stream
// returns nil only after the whole object has its length and sha256, so w
// must not take its bytes for the object's before then. A write error of w
// ends the download (the partial file is kept); a download that must start
// again from its first byte after w got some fails with ErrRewound.
func (c *Client) Stream(ctx context.Context, url string, size int64, sha256hex string, partial string, w io.Writer) error {
	return c.get(ctx, url, size, sha256hex, partial, w)
}

func (c *Client) get(ctx context.Context, url string, size int64, sha256hex string, partial string, tee io.Writer) error {
	if err := c.download(ctx, url, size, sha256hex, partial, tee); err != nil {
		return fmt.Errorf("download %s: %w", redact.URL(url), err)
	}
	return nil
}

func (c *Client) download(ctx context.Context, url string, size int64, sha256hex string, partial string, tee io.Writer) error {
	want, err := hex.DecodeString(sha256hex)
	if err != nil || len(want) != 32 || size < 0 {
		return fmt.Errorf("invalid request: size %d, sha256 %q", size, sha256hex)
	}
	// O_NOFOLLOW: the partial file's directory is root's, but a symlink
	// there must still never be written through.
	f, err := os.OpenFile(partial, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	d := &download{c: c, url: url, size: size, want: want, f: f, tee: tee}
	err = d.run(ctx)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if errors.Is(err, ErrMismatch) {
		d.discard()
		if rerr := os.Remove(partial); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	return err
}
