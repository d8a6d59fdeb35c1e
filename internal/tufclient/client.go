// Package tufclient reads a static release repository (package tufrepo)
// through TUF: go-tuf v2's updater refreshes the metadata, with hoist's own
// fetcher (fetcher.go), and the client answers which releases exist and
// where each target is, with its length and sha256. It never downloads
// targets: callers stream them with the length and hash given here.
//
// The engine keeps the trusted metadata under .hoist/tuf/ (0700), so that
// expired metadata, rolled-back versions and unsigned root changes are
// refused across runs; Bootstrap stores the root `hoist init` checked.
package tufclient

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-version"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"github.com/hoist-dev/hoist/internal/objfetch"
	"github.com/hoist-dev/hoist/internal/safefs"
	"github.com/hoist-dev/hoist/internal/tag"
	"github.com/hoist-dev/hoist/internal/tufrepo"
)

// Options say where a repository is and how to reach it.
type Options struct {
	URL string // the repository: metadata under URL/metadata/
	// TargetsURL is the base of the targets; empty means URL/targets/.
	TargetsURL string
	// Dir keeps the trusted metadata; empty keeps it in memory only,
	// starting from Root (an advisory reader such as the manager).
	Dir   string
	Root  []byte
	Token string
	// Retries bounds the retries of a transient failure per request, as
	// objfetch.Options.Retries does (0: objfetch's default, <0: none).
	Retries int
	// StallTimeout aborts a request that receives nothing for this long
	// (0: objfetch's default).
	StallTimeout time.Duration
}

// DefaultTimeout bounds the probes of Detect and discovery.
const DefaultTimeout = time.Minute

// RootFile is the trusted root's name in Options.Dir.
const RootFile = "root.json"

// ErrExpired marks metadata past its expiry date.
var ErrExpired = errors.New("release metadata expired")

// ErrUntrusted marks metadata TUF refuses: a bad signature, a version
// older than the trusted one, a wrong length or hash, or an expiry. It is
// a verdict on the repository, not a failure to reach it.
var ErrUntrusted = errors.New("release metadata refused")

// Client is a refreshed view of a repository's targets.
type Client struct {
	opts    Options
	targets map[string]*metadata.TargetFiles
	expires time.Time // the earliest expiry of the trusted metadata
}

// Expires is when the first of the trusted metadata expires: the date a
// node stops updating unless the publisher refreshes before it.
func (c *Client) Expires() time.Time { return c.expires }

// Bootstrap makes root, a root.json whose signer the caller checked, the
// trust anchor in dir. The metadata trusted under another root (a root
// re-initialised for another repository) is dropped: its versions would
// otherwise count as the new repository's.
func Bootstrap(dir string, root []byte) error {
	if old, err := os.ReadFile(filepath.Join(dir, RootFile)); err == nil && !bytes.Equal(old, root) {
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	if err := mkdirPrivate(dir); err != nil {
		return err
	}
	tmp := filepath.Join(dir, RootFile+".tmp")
	if err := os.WriteFile(tmp, root, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, RootFile))
}

func mkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}

// Refresh runs TUF's client workflow (root, timestamp, snapshot, targets)
// and returns the verified targets.
func Refresh(ctx context.Context, opts Options) (*Client, error) {
	root := opts.Root
	if opts.Dir != "" {
		if err := mkdirPrivate(opts.Dir); err != nil {
			return nil, err
		}
		d, err := os.OpenRoot(opts.Dir)
		if err != nil {
			return nil, err
		}
		root, err = safefs.ReadFile(d, RootFile, MaxRoot)
		d.Close()
		if err != nil {
			return nil, fmt.Errorf("trusted root: %w", err)
		}
	}
	cfg, err := config.New(metadataURL(opts.URL), root)
	if err != nil {
		return nil, err
	}
	cfg.Fetcher = &fetcher{ctx: ctx, client: objfetch.New(objfetch.Options{
		HTTP: NewHTTPClient(0), Token: opts.Token, Retries: opts.Retries, StallTimeout: opts.StallTimeout,
	})}
	cfg.PrefixTargetsWithHash = false
	cfg.LocalMetadataDir, cfg.LocalTargetsDir = opts.Dir, opts.Dir
	cfg.DisableLocalCache = opts.Dir == ""
	up, err := updater.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("trusted root: %w", err)
	}
	if err := up.Refresh(); err != nil {
		return nil, explain(err, up)
	}
	tm := up.GetTrustedMetadataSet()
	c := &Client{opts: opts, targets: up.GetTopLevelTargets()}
	for _, t := range expiries(tm.Root, tm.Timestamp, tm.Snapshot, tm.Targets[metadata.TARGETS]) {
		if c.expires.IsZero() || t.Before(c.expires) {
			c.expires = t
		}
	}
	return c, nil
}

// explain turns go-tuf's failures into what an operator can act on.
func explain(err error, up *updater.Updater) error {
	if !errors.Is(err, &metadata.ErrExpiredMetadata{}) {
		if errors.Is(err, &metadata.ErrRepository{}) {
			return fmt.Errorf("%w: %w", ErrUntrusted, err)
		}
		return fmt.Errorf("release metadata: %w", err)
	}
	tm := up.GetTrustedMetadataSet()
	var when time.Time
	for _, t := range expiries(tm.Root, tm.Timestamp, tm.Snapshot, tm.Targets[metadata.TARGETS]) {
		if t.Before(time.Now()) && (when.IsZero() || t.Before(when)) {
			when = t
		}
	}
	date := "an unknown date"
	if !when.IsZero() {
		date = when.UTC().Format(time.RFC3339)
	}
	return fmt.Errorf("%w on %s, the publisher must run `hoist release refresh` (%w: %w)", ErrExpired, date, ErrUntrusted, err)
}

func expiries(root *metadata.Metadata[metadata.RootType], ts *metadata.Metadata[metadata.TimestampType],
	snap *metadata.Metadata[metadata.SnapshotType], tg *metadata.Metadata[metadata.TargetsType]) []time.Time {
	var out []time.Time
	if root != nil {
		out = append(out, root.Signed.Expires)
	}
	if ts != nil {
		out = append(out, ts.Signed.Expires)
	}
	if snap != nil {
		out = append(out, snap.Signed.Expires)
	}
	if tg != nil {
		out = append(out, tg.Signed.Expires)
	}
	return out
}

func metadataURL(repo string) string {
	return strings.TrimSuffix(repo, "/") + "/" + tufrepo.MetadataDir + "/"
}

// Release is a release listed in the targets metadata.
type Release struct {
	Version *version.Version
	tufrepo.Release
}

// Tag is the release's tag, "vX.Y.Z".
func (r Release) Tag() string { return "v" + r.Version.String() }

// Releases lists the releases of the targets, oldest first. A manifest
// target without valid custom metadata or version is skipped.
func (c *Client) Releases() []Release {
	var out []Release
	for p, t := range c.targets {
		tg, name, ok := strings.Cut(p, "/")
		if !ok || name != tufrepo.ManifestName || t.Custom == nil {
			continue
		}
		var custom tufrepo.Custom
		if json.Unmarshal(*t.Custom, &custom) != nil || "v"+custom.Hoist.Version != tg {
			continue
		}
		v, err := tag.Parse(tg)
		if err != nil {
			continue
		}
		out = append(out, Release{Version: v, Release: custom.Hoist})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version.LessThan(out[j].Version) })
	return out
}

// Target is where a file is and what it must be.
type Target struct {
	URL    string
	Length int64
	SHA256 string // lowercase hex
}

// ErrNoTarget means the targets metadata does not list a path.
var ErrNoTarget = errors.New("not in the release metadata")

// Target returns the target path ("v1.2.0/info.json"), unprefixed.
func (c *Client) Target(p string) (Target, error) {
	t, ok := c.targets[p]
	if !ok {
		return Target{}, fmt.Errorf("%s: %w", p, ErrNoTarget)
	}
	sum := t.Hashes["sha256"]
	if len(sum) != 32 || t.Length < 0 {
		return Target{}, fmt.Errorf("%s: target lists no sha256 or a bad length", p)
	}
	base := c.opts.TargetsURL
	if base == "" {
		base = strings.TrimSuffix(c.opts.URL, "/") + "/" + tufrepo.TargetsDir + "/"
	}
	u, err := url.JoinPath(base, strings.Split(p, "/")...)
	if err != nil {
		return Target{}, err
	}
	return Target{URL: u, Length: t.Length, SHA256: hex.EncodeToString(sum)}, nil
}

// ObjectURL is the URL of the object with sha256 hex sum.
func (c *Client) ObjectURL(sum string) string {
	return strings.TrimSuffix(c.opts.URL, "/") + "/" + tufrepo.Object(sum)
}
