package tufclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/hoist-dev/hoist/internal/objfetch"
	"github.com/hoist-dev/hoist/internal/redact"
	"github.com/hoist-dev/hoist/internal/tufkey"
)

// StateDir is where the engine keeps the trusted metadata, in the app root.
const StateDir = ".hoist/tuf"

// MaxRoot caps a root.json read (go-tuf's default RootMaxLength).
const MaxRoot = 512000

// Detect reports whether repo is a static release repository: whether
// repo/metadata/root.json is a TUF root. It returns that root's bytes.
// URLs other than http(s) and file are git repositories. A server that
// cannot answer now (network error, 5xx, 408, 429) is an error, not a no:
// the caller may ask again later.
func Detect(ctx context.Context, repo, token string) ([]byte, bool, error) {
	u, err := url.Parse(repo)
	if err != nil || !slices.Contains([]string{"http", "https", "file"}, strings.ToLower(u.Scheme)) {
		return nil, false, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metadataURL(repo)+"root.json", nil)
	if err != nil {
		return nil, false, err
	}
	Authorize(req, token)
	res, err := NewHTTPClient(DefaultTimeout).Do(req)
	if err != nil {
		return nil, false, fmt.Errorf("probe for a static repository: %w", err)
	}
	defer res.Body.Close()
	switch c := res.StatusCode; {
	case c == http.StatusOK:
	case c >= 500 || c == http.StatusTooManyRequests || c == http.StatusRequestTimeout:
		return nil, false, fmt.Errorf("probe for a static repository: %s answered %s", redact.URL(req.URL.String()), res.Status)
	default:
		return nil, false, nil
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, MaxRoot+1))
	if err != nil || len(data) > MaxRoot {
		return nil, false, err
	}
	if _, err := metadata.Root().FromBytes(data); err != nil {
		return nil, false, nil
	}
	return data, true, nil
}

// ErrUntrustedRoot means no pinned key is a root key that signed a root.
var ErrUntrustedRoot = errors.New("the repository's root.json is not signed by a pinned root key")

// CheckRoot checks that root is a valid root (signed by its own root
// keys), and that one of pubkeys (minisign public key lines) is among its
// root keys and signed it: pinning the minisign key pins the repository,
// with no trust on first use.
func CheckRoot(root []byte, pubkeys []string) error {
	r, err := metadata.Root().FromBytes(root)
	if err != nil {
		return fmt.Errorf("root.json: %w", err)
	}
	if err := r.VerifyDelegate(metadata.ROOT, r); err != nil {
		return fmt.Errorf("root.json: %w", err)
	}
	if r.Signed.IsExpired(time.Now()) {
		return fmt.Errorf("root.json: %w on %s", ErrExpired, r.Signed.Expires.Format(time.RFC3339))
	}
	for _, pub := range pubkeys {
		key, err := tufkey.ParsePublic(pub)
		if err != nil {
			return err
		}
		id, err := key.ID()
		if err != nil {
			return err
		}
		if !slices.Contains(r.Signed.Roles[metadata.ROOT].KeyIDs, id) {
			continue
		}
		pinned := metadata.Root()
		if err := pinned.Signed.AddKey(key, metadata.ROOT); err != nil {
			return err
		}
		if pinned.VerifyDelegate(metadata.ROOT, r) == nil {
			return nil
		}
	}
	return ErrUntrustedRoot
}

// NewHTTPClient is the client of every metadata and object request: a
// timeout per request, and file:// served like a web server (tests, local
// mirrors). A server may redirect only to http(s): a redirect to file://
// would make root read whatever local file the server names.
func NewHTTPClient(timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// Keep a connection per parallel download: with net/http's default of
	// two, objfetch.GetAll would open a new one every few objects.
	t.MaxIdleConnsPerHost = objfetch.DefaultParallel
	t.RegisterProtocol("file", http.NewFileTransport(http.Dir("/")))
	return &http.Client{Timeout: timeout, Transport: t, CheckRedirect: checkRedirect}
}

// maxRedirects is net/http's own default limit.
const maxRedirects = 10

func checkRedirect(req *http.Request, via []*http.Request) error {
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return fmt.Errorf("refusing a redirect to %s: only http and https are followed", redact.URL(req.URL.String()))
	}
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	return nil
}
