package tufclient

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/hoist-dev/hoist/internal/objfetch"
	"github.com/hoist-dev/hoist/internal/redact"
	"github.com/hoist-dev/hoist/internal/repoauth"
)

// fetcher is go-tuf's metadata Fetcher with hoist's rules (FIELD-NOTES):
// objfetch.Fetch does the requests, with its own http.Client, the token
// as auth, a stall timeout, every 4xx but 408/429 permanent (404 on
// N+1.root.json is the normal end of the root walk), other failures
// retried at most download_retries times with backoff, and no answer read
// past maxLength. Here its errors become the ones go-tuf acts on.
type fetcher struct {
	ctx    context.Context
	client *objfetch.Client
}

// DownloadFile implements fetcher.Fetcher; the timeout argument is unused
// (go-tuf deprecated it): the stall timeout and ctx apply.
func (f *fetcher) DownloadFile(url string, maxLength int64, _ time.Duration) ([]byte, error) {
	data, err := f.client.Fetch(f.ctx, url, maxLength)
	var status *objfetch.StatusError
	switch {
	case errors.As(err, &status):
		return nil, errors.Join(&metadata.ErrDownloadHTTP{StatusCode: status.Code, URL: redact.URL(url)}, err)
	case errors.Is(err, objfetch.ErrTooLarge):
		return nil, errors.Join(&metadata.ErrDownloadLengthMismatch{Msg: err.Error()}, err)
	}
	return data, err
}

// Authorize adds token to req as HTTP basic auth, as objfetch sends it
// with object requests and git with smart HTTP, so that one token_file
// opens a private static host for metadata and content alike.
func Authorize(req *http.Request, token string) {
	if token != "" {
		req.SetBasicAuth(repoauth.User, token)
	}
}
