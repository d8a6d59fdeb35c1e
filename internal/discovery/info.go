package discovery

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"

	"github.com/hashicorp/go-version"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/infofile"
	"github.com/hoist-dev/hoist/internal/tag"
)

// Info is a release's info.json (CONTRACT §2).
type Info struct {
	Version  string `json:"version"`
	Name     string `json:"name"`
	Notes    string `json:"notes"`
	Requires string `json:"requires"`
	// Changelog is a link to the release's changes; only http(s) URLs are
	// passed on (Info.changelog), so a page can link it safely.
	Changelog string `json:"changelog,omitempty"`
	// Channel is "beta" for a beta release in a static repository's
	// metadata; in git a pre-release version (1.3.0-beta.1) says it.
	Channel string `json:"channel,omitempty"`
	// Rollout phases the release. In git only the default branch's counts,
	// so it is parsed there (Finder.Next), and one in a tag cannot break a
	// read; in a static repository each release's own counts.
	Rollout json.RawMessage `json:"rollout,omitempty"`
	// signed is set for a release of a static repository, whose signed
	// metadata holds each release's own rollout.
	signed bool
}

// ErrBadInfo marks an info.json that is not valid.
var ErrBadInfo = errors.New("invalid info.json")

// ParseInfo decodes and validates an info.json: version must be X.Y.Z and
// requires, when set, a go-version constraint. Unknown fields are allowed.
func ParseInfo(data []byte) (Info, error) {
	if len(data) > infofile.MaxSize {
		return Info{}, fmt.Errorf("%w: %d bytes", ErrBadInfo, len(data))
	}
	var i Info
	if err := json.Unmarshal(data, &i); err != nil {
		return Info{}, fmt.Errorf("%w: %v", ErrBadInfo, err)
	}
	if _, err := i.version(); err != nil {
		return Info{}, err
	}
	if _, err := i.constraint(); err != nil {
		return Info{}, err
	}
	return i, nil
}

// changelog returns Changelog when it is an absolute http(s) URL, else "":
// a javascript: or data: link in a release must not reach the page.
func (i Info) changelog() string {
	u, err := url.Parse(i.Changelog)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return i.Changelog
}

// Tag is the release tag of this info ("1.2.3" → "v1.2.3").
func (i Info) Tag() string { return "v" + i.Version }

func (i Info) version() (*version.Version, error) {
	v, err := tag.Parse(i.Tag())
	if err != nil {
		return nil, fmt.Errorf("%w: version: %v", ErrBadInfo, err)
	}
	return v, nil
}

// constraint returns the parsed requires, nil when there is none.
func (i Info) constraint() (version.Constraints, error) {
	if i.Requires == "" {
		return nil, nil
	}
	c, err := version.NewConstraint(i.Requires)
	if err != nil {
		return nil, fmt.Errorf("%w: requires %q: %v", ErrBadInfo, i.Requires, err)
	}
	return c, nil
}

// allows reports whether a release may be installed over installed (nil:
// nothing installed, so anything may). An installed beta meets requires as
// its release would: go-version never matches a pre-release otherwise.
func (i Info) allows(installed *version.Version) (bool, error) {
	c, err := i.constraint()
	if err != nil {
		return false, err
	}
	return c == nil || installed == nil || c.Check(installed.Core()), nil
}

// beta reports whether the release is on the beta channel: a pre-release
// version, or marked so in its metadata.
func (i Info) beta() bool {
	v, err := i.version()
	return i.Channel == "beta" || err == nil && v.Prerelease() != ""
}

// ErrNotInstalled means the root holds no live release yet.
var ErrNotInstalled = errors.New("no release installed")

// Installed reads the live release's info.json from the app root: the copy
// the engine keeps in statuses/ (all the manager sees inside Docker), else
// ROOT/info.json. It returns the parsed info and the file's bytes.
func Installed(root *os.Root) (Info, []byte, error) {
	for _, name := range []string{approot.StatusInfoCopy, approot.InfoFile} {
		data, err := infofile.ReadFile(root, name) // root runs this too: statuses/ is the manager's
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Info{}, nil, fmt.Errorf("installed release: %w", err)
		}
		info, err := ParseInfo(data)
		if err != nil {
			return Info{}, nil, fmt.Errorf("installed release %s: %w", name, err)
		}
		return info, data, nil
	}
	return Info{}, nil, ErrNotInstalled
}

// InstalledVersion is Installed's version, nil when nothing is installed.
func InstalledVersion(root *os.Root) (*version.Version, error) {
	info, _, err := Installed(root)
	if errors.Is(err, ErrNotInstalled) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return info.version()
}
