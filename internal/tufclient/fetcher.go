package tufclient

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/hoist-dev/hoist/internal/repoauth"
)

// fetcher is go-tuf's metadata Fetcher with hoist's rules (FIELD-NOTES):
// its own http.Client with timeouts, the token sent as auth, every 4xx
// permanent (404 on N+1.root.json is the normal end of the root walk),
// other failures retried at most retries times with backoff, and no
// answer read past maxLength.
type fetcher struct {
	ctx     context.Context
	client  *http.Client
	token   string
	retries int
}

// DownloadFile implements fetcher.Fetcher; the timeout argument is unused
// (go-tuf deprecated it): the client's and ctx's deadlines apply.
func (f *fetcher) DownloadFile(url string, maxLength int64, _ time.Duration) ([]byte, error) {
	var err error
	for attempt := 0; ; attempt++ {
		var data []byte
		var retry bool
		data, retry, err = f.get(url, maxLength)
		if err == nil {
			return data, nil
		}
		if !retry || attempt >= f.retries {
			return nil, err
		}
		select {
		case <-f.ctx.Done():
			return nil, f.ctx.Err()
		case <-time.After(backoff(attempt)):
		}
	}
}

// get makes one request; retry says whether a failure may be transient.
func (f *fetcher) get(url string, maxLength int64) (data []byte, retry bool, err error) {
	req, err := http.NewRequestWithContext(f.ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, false, err
	}
	repoauth.Request(req, f.token)
	res, err := f.client.Do(req)
	if err != nil {
		return nil, f.ctx.Err() == nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		transient := res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests
		return nil, transient, &metadata.ErrDownloadHTTP{StatusCode: res.StatusCode, URL: url}
	}
	if res.ContentLength > maxLength {
		return nil, false, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s: %d bytes, more than the %d allowed", url, res.ContentLength, maxLength)}
	}
	data, err = io.ReadAll(io.LimitReader(res.Body, maxLength+1))
	if err != nil {
		return nil, f.ctx.Err() == nil, err
	}
	if int64(len(data)) > maxLength {
		return nil, false, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s: more than the %d bytes allowed", url, maxLength)}
	}
	return data, false, nil
}

// backoff is the wait before retry attempt+1: 250 ms doubling, at most 8 s.
func backoff(attempt int) time.Duration {
	return min(250*time.Millisecond<<attempt, 8*time.Second)
}
