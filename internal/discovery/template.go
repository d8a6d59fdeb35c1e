package discovery

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/go-version"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/infofile"
	"github.com/hoist-dev/hoist/internal/redact"
	"github.com/hoist-dev/hoist/internal/repoauth"
)

// templateSource fetches info.json from an http(s) URL template such as
// https://raw.githubusercontent.com/o/r/{ref}/info.json. The default branch
// is the ref "HEAD", which raw file hosts like GitHub's resolve. A template
// cannot list tags, so the requires walk steps to the constraint's own lower
// bound (as Umbrel does).
type templateSource struct {
	tmpl   string
	token  string // sent as a bearer token when set
	client *http.Client
}

func newTemplateSource(tmpl, token string) (templateSource, error) {
	u, err := url.Parse(strings.ReplaceAll(tmpl, "{ref}", "HEAD"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return templateSource{}, fmt.Errorf("release URL template %q: want an http(s) URL containing {ref}", redact.URL(tmpl))
	}
	return templateSource{tmpl: tmpl, token: token, client: &http.Client{}}, nil
}

func (s templateSource) Info(ctx context.Context, ref string) (Info, error) {
	what := refName(ref)
	r := ref
	if r == "" {
		r = "HEAD"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.ReplaceAll(s.tmpl, "{ref}", url.PathEscape(r)), nil)
	if err != nil {
		return Info{}, fetchError(what, err)
	}
	repoauth.Request(req, s.token)
	resp, err := s.client.Do(req)
	if err != nil {
		return Info{}, fetchError(what, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound && ref != "":
		return Info{}, fmt.Errorf("%s: %w", ref, ErrNoSuchRelease)
	case resp.StatusCode != http.StatusOK:
		err := fmt.Errorf("HTTP %s", resp.Status)
		return Info{}, &FetchError{Reason: fmt.Sprintf("reading %s: the release server answered %s", what, resp.Status), Err: err}
	}
	data, err := infofile.Read(resp.Body, approot.InfoFile)
	if err != nil {
		return Info{}, fetchError(what, err)
	}
	return parseAt(ref, data)
}

func (templateSource) Tags(context.Context) ([]*version.Version, error) {
	return nil, ErrNoTagList
}
