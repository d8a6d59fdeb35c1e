package fetch

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// go-git v5 picks the HTTP client from a process-wide protocol table and has
// no per-call option, so the stall guard (and the thin-pack request of
// thinpack.go) is installed there once. It only changes anything for
// requests whose context carries a stall timeout (set by Clone); every other
// go-git user in the process keeps plain net/http behaviour but for the cap
// on error answers, which every go-git user needs.
var installOnce sync.Once

// InstallHTTP installs the process's one go-git client for http and https,
// once; Clone does. Another go-git user in the process (the manager's
// discovery) calls it before its first request, for the cap on error
// answers, rather than install a client of its own that would replace this.
func InstallHTTP() {
	installOnce.Do(func() {
		base := http.DefaultTransport.(*http.Transport).Clone()
		base.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		c := thinPackTransport{githttp.NewClient(&http.Client{Transport: stallTransport{base}})}
		client.InstallProtocol("http", c)
		client.InstallProtocol("https", c)
	})
}

type stallKey struct{}

func withStallTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, stallKey{}, d)
}

// stallTransport cancels a request when no byte of it arrives for the
// request context's stall timeout: not while connecting, not while waiting
// for the headers, and not between two reads of the body. It also caps
// the body of an error answer.
type stallTransport struct {
	base http.RoundTripper
}

func (s stallTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.roundTrip(req)
	if err == nil && resp.StatusCode >= http.StatusBadRequest {
		// go-git reads an error answer whole into its message; a hostile
		// server's endless one would be buffered without end.
		resp.Body = cappedBody{io.LimitReader(resp.Body, maxErrorBody), resp.Body}
	}
	return resp, err
}

// maxErrorBody caps what is read of an HTTP error answer.
const maxErrorBody = 64 << 10

type cappedBody struct {
	io.Reader
	io.Closer
}

func (s stallTransport) roundTrip(req *http.Request) (*http.Response, error) {
	limit, ok := req.Context().Value(stallKey{}).(time.Duration)
	if !ok {
		return s.base.RoundTrip(req)
	}
	ctx, cancel := context.WithCancelCause(req.Context())
	timer := time.AfterFunc(limit, func() { cancel(fmt.Errorf("%w: nothing received for %s", ErrStalled, limit)) })
	resp, err := s.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		timer.Stop()
		err = stallCause(ctx, err)
		cancel(nil)
		return nil, err
	}
	resp.Body = &stallBody{ReadCloser: resp.Body, ctx: ctx, cancel: cancel, timer: timer, limit: limit}
	return resp, nil
}

// stallCause returns why ctx was cancelled if the stall timer did it, else err.
func stallCause(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
		return cause
	}
	return err
}

type stallBody struct {
	io.ReadCloser
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	limit  time.Duration
}

func (b *stallBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.timer.Reset(b.limit)
	}
	if err != nil && err != io.EOF {
		err = stallCause(b.ctx, err)
	}
	return n, err
}

func (b *stallBody) Close() error {
	b.timer.Stop()
	b.cancel(nil)
	return b.ReadCloser.Close()
}
