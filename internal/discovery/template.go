package discovery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/go-version"

	"github.com/hoist-dev/hoist/internal/httpcache"
	"github.com/hoist-dev/hoist/internal/infofile"
	"github.com/hoist-dev/hoist/internal/redact"
	"github.com/hoist-dev/hoist/internal/repoauth"
)

// templateSource fetches info.json from an http(s) URL template such as
// https://raw.githubusercontent.com/o/r/{ref}/info.json. The default branch
// is the ref "HEAD", which raw file hosts like GitHub's resolve. A template
// cannot list tags, so the requires walk steps to the constraint's own lower
// bound (as Umbrel does). Requests are conditional (package httpcache): an
// unchanged info.json costs a 304.
type templateSource struct {
	tmpl   string
	token  string // sent as a bearer token when set
	client *httpcache.Client
}

func newTemplateSource(tmpl, token string, store httpcache.Store) (templateSource, error) {
	u, err := url.Parse(strings.ReplaceAll(tmpl, "{ref}", "HEAD"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return templateSource{}, fmt.Errorf("release URL template %q: want an http(s) URL containing {ref}", redact.URL(tmpl))
	}
	return templateSource{tmpl: tmpl, token: token, client: httpcache.New(&http.Client{}, store, infofile.MaxSize)}, nil
}

func (s templateSource) Info(ctx context.Context, ref string) (Info, error) {
	what := refName(ref)
	r := ref
	if r == "" {
		r = "HEAD"
	}
	req := &http.Request{Header: http.Header{}} // carries repoauth's header to the client
	repoauth.Request(req, s.token)
	resp, err := s.client.Get(ctx, strings.ReplaceAll(s.tmpl, "{ref}", url.PathEscape(r)), req.Header)
	var se *httpcache.StatusError
	switch {
	case errors.As(err, &se) && se.Code == http.StatusNotFound && ref != "":
		return Info{}, fmt.Errorf("%s: %w", ref, ErrNoSuchRelease)
	case errors.As(err, &se):
		return Info{}, &FetchError{Reason: fmt.Sprintf("reading %s: the release server answered %s", what, se.Status), Err: err}
	case err != nil:
		return Info{}, fetchError(what, err)
	}
	return parseAt(ref, resp.Body)
}

func (templateSource) Tags(context.Context) ([]*version.Version, error) {
	return nil, ErrNoTagList
}
