package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/hashicorp/go-version"

	"github.com/hoist-dev/hoist/internal/httpcache"
	"github.com/hoist-dev/hoist/internal/redact"
	"github.com/hoist-dev/hoist/internal/repoauth"
	"github.com/hoist-dev/hoist/internal/safefs"
)

// Source reads a release repository.
type Source interface {
	// Info returns the info.json at ref: "" for the default branch, else a
	// release tag "vX.Y.Z". A tag that does not exist is ErrNoSuchRelease.
	Info(ctx context.Context, ref string) (Info, error)
	// Tags returns the versions of the repository's release tags, or
	// ErrNoTagList when the source cannot list them.
	Tags(ctx context.Context) ([]*version.Version, error)
}

var (
	// ErrNoSuchRelease means the repository has no such release tag.
	ErrNoSuchRelease = errors.New("no such release")
	// ErrNoTagList means the source cannot list tags (a URL template).
	ErrNoTagList = errors.New("source cannot list tags")
)

// FetchError is a failure to reach or read the release repository. Reason
// is one line safe to show to clients; Err holds the detail for the log.
type FetchError struct {
	Reason string
	Err    error
}

func (e *FetchError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *FetchError) Unwrap() error { return e.Err }

// fetchError classifies err, met while reading what ("tags", "v1.2.0",
// "the default branch"), into a FetchError. Errors that already say
// something precise (no such release, a FetchError) pass through.
func fetchError(what string, err error) error {
	var fe *FetchError
	if err == nil || errors.Is(err, ErrNoSuchRelease) || errors.As(err, &fe) {
		return err
	}
	var dns *net.DNSError
	var reason string
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		reason = "the release repository did not answer in time"
	case errors.Is(err, context.Canceled):
		reason = "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		reason = "the release repository refused the connection"
	case errors.As(err, &dns):
		reason = "the release repository's host name does not resolve"
	case errors.Is(err, transport.ErrRepositoryNotFound), errors.Is(err, git.ErrRepositoryNotExists):
		reason = "the release repository does not exist"
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		reason = "the release repository refused access"
	case errors.Is(err, ErrBadInfo), errors.Is(err, errTooLarge), errors.Is(err, safefs.ErrTooLarge):
		reason = "the release repository holds an invalid info.json"
	default:
		reason = "the release repository could not be read"
	}
	return &FetchError{Reason: fmt.Sprintf("reading %s: %s", what, reason), Err: err}
}

var errTooLarge = errors.New("answer too large")

// refName names ref in messages.
func refName(ref string) string {
	if ref == "" {
		return "the default branch"
	}
	return ref
}

// Open is OpenStore with answers remembered in memory, for a process that
// checks repeatedly.
func Open(rawURL, token string) (Source, error) {
	return OpenStore(rawURL, token, httpcache.NewMemory())
}

// OpenStore returns the Source for a --releases value or a config repo URL:
// an http(s) URL containing "{ref}" is a template, anything else a git URL
// (file://, http(s)://, ssh://, git://, user@host:path). token, if not
// empty, is sent as HTTP auth (package repoauth). store remembers answers so
// that the next check is conditional (see polite.go).
func OpenStore(rawURL, token string, store httpcache.Store) (Source, error) {
	if strings.Contains(rawURL, "{ref}") {
		return newTemplateSource(rawURL, token, store)
	}
	ep, err := transport.NewEndpoint(rawURL)
	if err != nil {
		return nil, fmt.Errorf("release repository %q: %w", redact.URL(rawURL), err)
	}
	if ep.Protocol == "file" {
		return localSource{path: ep.Path}, nil
	}
	return remoteSource{url: rawURL, auth: repoauth.Git(rawURL, token), limit: maxClone, store: store}, nil
}
