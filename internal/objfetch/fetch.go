package objfetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/hoist-dev/hoist/internal/redact"
)

// ErrTooLarge means an answer exceeded the length Fetch allows.
var ErrTooLarge = errors.New("answer exceeds the length allowed")

// Fetch returns the body at url, which must be at most maxLength bytes: for
// small files whose length is known only as a bound, such as TUF metadata
// (go-tuf's Fetcher.DownloadFile), with Get's auth, retries and stall
// timeout. A longer answer is ErrTooLarge as soon as it is announced or
// read, and is not retried; a 4xx other than 408 and 429 is a *StatusError
// at once (a 404 ends TUF's walk through root versions). Progress is not
// reported.
func (c *Client) Fetch(ctx context.Context, url string, maxLength int64) ([]byte, error) {
	var data []byte
	err := c.withRetries(ctx, url, func(ctx context.Context, stall *stallTimer) error {
		resp, err := c.do(ctx, url, -1)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return statusError(resp)
		}
		if resp.ContentLength > maxLength {
			return permanent{fmt.Errorf("%w: %d bytes announced, at most %d allowed", ErrTooLarge, resp.ContentLength, maxLength)}
		}
		data, err = io.ReadAll(stall.reader(io.LimitReader(resp.Body, maxLength+1)))
		if err != nil {
			return err
		}
		if int64(len(data)) > maxLength {
			return permanent{fmt.Errorf("%w: more than %d bytes", ErrTooLarge, maxLength)}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", redact.URL(url), err)
	}
	return data, nil
}
