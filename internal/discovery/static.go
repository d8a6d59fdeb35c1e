package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-version"

	"github.com/hoist-dev/hoist/internal/httpcache"
	"github.com/hoist-dev/hoist/internal/redact"
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
// then as a static repository, whose metadata is verified from the root
// pinned returns (the manager's: the copy of the engine's trusted root,
// tufclient.PublishedRoot), never from the root the server sends. Without
// a pinned root a static repository is an error, asked again at the next
// read. Which kind rawURL is gets settled by the first read that reaches
// the server, so a manager started before its network is up does not
// take a static repository for git.
func Detect(rawURL, token string, store httpcache.Store, pinned func() ([]byte, error)) (Source, error) {
	src, err := OpenStore(rawURL, token, store)
	if err != nil || strings.Contains(rawURL, "{ref}") {
		return src, err
	}
	return &detecting{url: rawURL, token: token, store: store, pinned: pinned, other: src}, nil
}

// PublishedRoot returns the pinned root of Detect read from the statuses
// directory statuses (tufclient.PublishedRoot), as the manager sees it.
func PublishedRoot(statuses string) func() ([]byte, error) {
	return func() ([]byte, error) {
		d, err := os.OpenRoot(statuses)
		if err != nil {
			return nil, err
		}
		defer d.Close()
		return tufclient.ReadPublishedRoot(d)
	}
}

// detecting is a Source that probes, until it has an answer, whether its
// URL is a static repository or other.
type detecting struct {
	url, token string
	store      httpcache.Store
	pinned     func() ([]byte, error)
	other      Source

	mu  sync.Mutex
	src Source // nil until settled
}

func (d *detecting) source(ctx context.Context) (Source, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.src != nil {
		return d.src, nil
	}
	_, static, err := tufclient.Detect(ctx, d.url, d.token)
	if err != nil {
		return nil, fetchError("the release repository", err)
	}
	if !static {
		d.src = d.other
		return d.src, nil
	}
	root, err := d.pinned()
	if err != nil {
		return nil, fmt.Errorf("%s is a static release repository, but its trusted root (statuses/%s, written by hoist init and every hoist apply) is unreadable: %w",
			redact.URL(d.url), tufclient.PublishedRoot, err)
	}
	d.src = OpenStatic(tufclient.Options{URL: d.url, Root: root, Token: d.token, Retries: 2}, d.store)
	return d.src, nil
}

// settled is the source once known, nil before.
func (d *detecting) settled() Source {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.src
}

func (d *detecting) Info(ctx context.Context, ref string) (Info, error) {
	src, err := d.source(ctx)
	if err != nil {
		return Info{}, err
	}
	return src.Info(ctx, ref)
}

func (d *detecting) Tags(ctx context.Context) ([]*version.Version, error) {
	src, err := d.source(ctx)
	if err != nil {
		return nil, err
	}
	return src.Tags(ctx)
}

// client returns the refreshed targets, refreshing only when
// timestamp.json changed since the last refresh.
func (s *staticSource) client(ctx context.Context) (*tufclient.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	header := http.Header{}
	tufclient.Authorize(&http.Request{Header: header}, s.opts.Token)
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

// metadataExpires is when the metadata of the last refresh expires.
func (s *staticSource) metadataExpires() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		return time.Time{}, false
	}
	return s.last.Expires(), true
}

// MetadataExpires is when the release metadata last read expires, for a
// static repository that was read; ok is false otherwise. Monitoring
// alerts on it before nodes stop updating.
func (f *Finder) MetadataExpires() (t time.Time, ok bool) {
	src := f.src
	if d, detect := src.(*detecting); detect {
		src = d.settled()
	}
	if s, static := src.(*staticSource); static {
		return s.metadataExpires()
	}
	return t, false
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
		info.signed = true
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
