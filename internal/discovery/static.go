package discovery

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	"github.com/hashicorp/go-version"

	"github.com/hoist-dev/hoist/internal/httpcache"
	"github.com/hoist-dev/hoist/internal/repoauth"
	"github.com/hoist-dev/hoist/internal/tufclient"
	"github.com/hoist-dev/hoist/internal/tufrepo"
)

// maxTimestamp caps the probe of timestamp.json (go-tuf's own cap).
const maxTimestamp = 16384

// staticSource reads a static release repository's TUF targets metadata:
// the releases and their info, with no content downloaded. A check costs
// one conditional GET of timestamp.json when nothing changed; only a new
// timestamp runs the full TUF refresh.
type staticSource struct {
	opts  tufclient.Options
	probe *httpcache.Client

	mu   sync.Mutex
	last *tufclient.Client // the targets of the last refresh
}

// OpenStatic returns the Source of the static repository opts describe;
// store remembers the timestamp probe between checks.
func OpenStatic(opts tufclient.Options, store httpcache.Store) Source {
	return &staticSource{opts: opts, probe: httpcache.New(tufclient.NewHTTPClient(tufclient.DefaultTimeout), store, maxTimestamp)}
}

// Detect opens rawURL as OpenStore does, unless it serves TUF metadata:
// then as a static repository, trusting the root it serves. That is for
// advisory readers (the manager's --releases): the engine verifies what it
// installs against the root `hoist init` pinned.
func Detect(ctx context.Context, rawURL, token string, store httpcache.Store) (Source, error) {
	if !strings.Contains(rawURL, "{ref}") {
		root, static, err := tufclient.Detect(ctx, rawURL, token)
		if err == nil && static {
			opts := tufclient.Options{URL: rawURL, Root: root, Token: token, Retries: 2}
			return OpenStatic(opts, store), nil
		}
	}
	return OpenStore(rawURL, token, store)
}

// client returns the refreshed targets, refreshing only when
// timestamp.json changed since the last refresh.
func (s *staticSource) client(ctx context.Context) (*tufclient.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	header := http.Header{}
	if s.opts.Token != "" {
		req := &http.Request{Header: header}
		repoauth.Request(req, s.opts.Token)
	}
	url := strings.TrimSuffix(s.opts.URL, "/") + "/" + tufrepo.MetadataDir + "/timestamp.json"
	res, err := s.probe.Get(ctx, url, header)
	if err != nil {
		return nil, err
	}
	if res.NotModified && s.last != nil {
		return s.last, nil
	}
	c, err := tufclient.Refresh(ctx, s.opts)
	if err != nil {
		return nil, err
	}
	s.last = c
	return c, nil
}

func (s *staticSource) Info(ctx context.Context, ref string) (Info, error) {
	c, err := s.client(ctx)
	if err != nil {
		return Info{}, fetchError(refName(ref), err)
	}
	rels := c.Releases()
	for i := len(rels) - 1; i >= 0; i-- {
		if ref != "" && rels[i].Tag() != ref {
			continue
		}
		data, err := json.Marshal(rels[i].Release)
		if err != nil {
			return Info{}, err
		}
		info, err := ParseInfo(data)
		return info, fetchError(refName(ref), err)
	}
	return Info{}, ErrNoSuchRelease
}

func (s *staticSource) Tags(ctx context.Context) ([]*version.Version, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, fetchError("tags", err)
	}
	var out []*version.Version
	for _, r := range c.Releases() {
		out = append(out, r.Version)
	}
	return out, nil
}
