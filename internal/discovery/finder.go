package discovery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-version"

	"github.com/hoist-dev/hoist/internal/tag"
)

// DefaultTimeout bounds one read of the release repository.
const DefaultTimeout = 20 * time.Second

// maxSteps caps the releases one requires walk reads.
const maxSteps = 16

var (
	// ErrUpToDate means there is no release to update to.
	ErrUpToDate = errors.New("nothing to update to: the installed release is the newest one it can update to")
	// ErrNotNewer means a requested release is not newer than the installed one.
	ErrNotNewer = errors.New("not newer than the installed release")
	// ErrIncompatible means a requested release's requires is not met.
	ErrIncompatible = errors.New("cannot be installed over the installed release")
)

// Update is get-update's answer when there is a release to install.
type Update struct {
	Version  string `json:"version"`
	Name     string `json:"name"`
	Notes    string `json:"notes"`
	Requires string `json:"requires"`
	// Changelog is the release's http(s) changelog link, if it has one.
	Changelog string `json:"changelog,omitempty"`
	// Intermediate is set when Latest's requires forces this older step first.
	Intermediate bool     `json:"intermediate,omitempty"`
	Latest       string   `json:"latest,omitempty"`
	rollout      *Rollout // the newest release's, for Hold
}

// Tag is the release tag to request.
func (u *Update) Tag() string { return "v" + u.Version }

// upToDate is get-update's answer when there is nothing to install now.
type upToDate struct {
	Message string  `json:"message"`
	Phased  *Phased `json:"phased,omitempty"`
}

// Answer is get-update's JSON body for Next's result u and Hold's held: u,
// or the up-to-date message when u is nil or held back by its rollout.
func Answer(u *Update, held *Phased) any {
	if u == nil || held != nil {
		return upToDate{Message: "up-to-date", Phased: held}
	}
	return u
}

// Finder answers "what should be installed next" from a Source.
type Finder struct {
	src     Source
	timeout time.Duration
	infos   cache[Info]
	tags    cache[[]*version.Version]
}

// NewFinder returns a Finder reading src. Answers are reused for ttl (0:
// every call reads the repository); each read is bounded by timeout (0:
// DefaultTimeout).
func NewFinder(src Source, ttl, timeout time.Duration) *Finder {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Finder{src: src, timeout: timeout, infos: cache[Info]{ttl: ttl}, tags: cache[[]*version.Version]{ttl: ttl}}
}

func (f *Finder) info(ctx context.Context, ref string) (Info, error) {
	return f.infos.get(ctx, ref, func(ctx context.Context) (Info, error) {
		ctx, cancel := context.WithTimeout(ctx, f.timeout)
		defer cancel()
		return f.src.Info(ctx, ref)
	})
}

func (f *Finder) tagList(ctx context.Context) ([]*version.Version, error) {
	return f.tags.get(ctx, "", func(ctx context.Context) ([]*version.Version, error) {
		ctx, cancel := context.WithTimeout(ctx, f.timeout)
		defer cancel()
		return f.src.Tags(ctx)
	})
}

// Next is NextOn the stable channel.
func (f *Finder) Next(ctx context.Context, installed *version.Version) (*Update, error) {
	return f.NextOn(ctx, installed, false)
}

// NextOn returns the release to install over installed (nil: nothing is
// installed, so the newest release is the answer), or nil when there is
// none; beta releases only when beta is set. See the package comment for
// the walk.
func (f *Finder) NextOn(ctx context.Context, installed *version.Version, beta bool) (*Update, error) {
	head, err := f.info(ctx, "")
	if err != nil {
		return nil, err
	}
	// A rollout that cannot be read stops updates rather than reaching
	// every node at once.
	rollout, err := head.rollout()
	if err != nil {
		return nil, fetchError(refName(""), err)
	}
	latest, err := f.newest(ctx, head, beta)
	if err != nil || latest == nil {
		return nil, err
	}
	if latest.Version != head.Version {
		// A stable node under a newer beta: in git only the default
		// branch's release is phased, in a static repository every one.
		rollout = nil
		if latest.signed {
			if rollout, err = latest.rollout(); err != nil {
				return nil, fetchError(latest.Tag(), err)
			}
		}
	}
	step := *latest
	for range maxSteps {
		v, err := step.version()
		if err != nil {
			return nil, err
		}
		if installed != nil && !v.GreaterThan(installed) {
			return nil, nil
		}
		ok, err := step.allows(installed)
		if err != nil {
			return nil, err
		}
		if ok {
			u := &Update{Version: step.Version, Name: step.Name, Notes: step.Notes, Requires: step.Requires, Changelog: step.changelog(), rollout: rollout}
			if step.Version != latest.Version {
				u.Intermediate, u.Latest = true, latest.Version
			}
			return u, nil
		}
		next, err := f.lowerStep(ctx, step, installed, beta)
		if err != nil || next == nil {
			return nil, err
		}
		lower, err := f.info(ctx, tag.Of(next))
		if errors.Is(err, ErrNoSuchRelease) {
			// Only a template source guesses steps that may not exist.
			err = &FetchError{Reason: fmt.Sprintf("release %s, required by %s, does not exist", tag.Of(next), step.Tag()), Err: err}
		}
		if err != nil {
			return nil, err
		}
		step = lower
	}
	return nil, &FetchError{Reason: fmt.Sprintf("the requires chain from %s is longer than %d releases", latest.Tag(), maxSteps), Err: errors.New("requires walk too long")}
}

// lowerStep returns the lowest release that step's requires allows, newer
// than installed and older than step, a pre-release only when beta is set;
// nil when there is none.
func (f *Finder) lowerStep(ctx context.Context, step Info, installed *version.Version, beta bool) (*version.Version, error) {
	c, err := step.constraint()
	if err != nil {
		return nil, err
	}
	stepVersion, err := step.version()
	if err != nil {
		return nil, err
	}
	candidates, err := f.tagList(ctx)
	if errors.Is(err, ErrNoTagList) {
		candidates, err = lowerBounds(c), nil
	}
	if err != nil {
		return nil, err
	}
	var best *version.Version
	for _, v := range candidates {
		if (beta || v.Prerelease() == "") && c.Check(v.Core()) && v.LessThan(stepVersion) && v.GreaterThan(installed) && (best == nil || v.LessThan(best)) {
			best = v
		}
	}
	return best, nil
}

// lowerBounds guesses the lowest versions a constraint allows when tags
// cannot be listed: each bound's version, and the next patch for a ">".
func lowerBounds(c version.Constraints) []*version.Version {
	var out []*version.Version
	for _, one := range c {
		v, err := version.NewSemver(strings.TrimLeft(one.String(), "<>=!~ "))
		if err != nil {
			continue
		}
		s := v.Segments()
		out = append(out, v, version.Must(version.NewSemver(fmt.Sprintf("%d.%d.%d", s[0], s[1], s[2]+1))))
	}
	return out
}

// Target is TargetOn the stable channel.
func (f *Finder) Target(ctx context.Context, installed *version.Version, want string) (string, error) {
	return f.TargetOn(ctx, installed, want, false)
}

// TargetOn returns the tag to request over installed: want when given (it
// must be an existing release newer than installed whose requires is met,
// whatever its channel: the owner asked for it), else NextOn's answer
// (ErrUpToDate when there is none).
func (f *Finder) TargetOn(ctx context.Context, installed *version.Version, want string, beta bool) (string, error) {
	if want == "" {
		u, err := f.NextOn(ctx, installed, beta)
		if err != nil {
			return "", err
		}
		if u == nil {
			return "", ErrUpToDate
		}
		return u.Tag(), nil
	}
	v, err := tag.Parse(want)
	if err != nil {
		return "", err
	}
	if installed != nil && !v.GreaterThan(installed) {
		return "", fmt.Errorf("%s is %w (v%s)", want, ErrNotNewer, installed)
	}
	info, err := f.info(ctx, want)
	if err != nil {
		return "", err
	}
	ok, err := info.allows(installed)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("%s requires %q, so it %w (v%s)", want, info.Requires, ErrIncompatible, installed)
	}
	return want, nil
}

// newest returns the newest release the channel offers, nil when there is
// none: the default branch's (head), unless beta and a newer pre-release is
// tagged, or head is a beta release and beta is not set, then the newest
// tagged stable release. The switch back to stable thus never downgrades:
// an installed beta is newer than the stable releases before it.
func (f *Finder) newest(ctx context.Context, head Info, beta bool) (*Info, error) {
	if !beta && !head.beta() {
		return &head, nil
	}
	tags, err := f.tagList(ctx)
	if errors.Is(err, ErrNoTagList) {
		if beta {
			return &head, nil
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if beta {
		headVersion, err := head.version()
		if err != nil {
			return nil, err
		}
		if n := len(tags); n > 0 && tags[n-1].GreaterThan(headVersion) {
			return f.infoOf(ctx, tags[n-1])
		}
		return &head, nil
	}
	read := 0
	for i := len(tags) - 1; i >= 0 && read < maxSteps; i-- {
		if tags[i].Prerelease() != "" {
			continue
		}
		info, err := f.infoOf(ctx, tags[i])
		if err != nil {
			return nil, err
		}
		if !info.beta() { // a static repository marks betas in metadata
			return info, nil
		}
		read++
	}
	return nil, nil
}

func (f *Finder) infoOf(ctx context.Context, v *version.Version) (*Info, error) {
	info, err := f.info(ctx, tag.Of(v))
	if err != nil {
		return nil, err
	}
	return &info, nil
}
