// Package settings reads and writes statuses/settings.json, the node owner's
// run-time choices: whether the manager updates by itself, in which daily
// window, from which channel, which versions to pass over, and where to send
// notifications.
//
// The manager owns the file; `hoist settings` (as root on the host) edits it
// with the same code and keeps the manager as its owner. Parsing is strict:
// an unknown key, a bad window, channel, version or URL is an error wrapping
// ErrInvalid and nothing is written. The notification URLs hold secrets, so
// the file is 0600 and Redacted is what may be shown.
package settings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/hoist-dev/hoist/internal/safefs"
)

// Name is the file's name inside statuses/.
const Name = "settings.json"

// The channels.
const (
	Stable = "stable" // releases only
	Beta   = "beta"   // pre-releases too
)

// Caps of the lists and of the file.
const (
	MaxSkip   = 64
	MaxNotify = 16
	maxURL    = 2048
	maxSize   = 64 << 10
)

// ErrInvalid marks settings that are refused; its message is safe to show.
var ErrInvalid = errors.New("invalid settings")

// Settings is the content of the file, keys exactly as written.
type Settings struct {
	AutoUpdate bool   `json:"auto_update"`
	Window     Window `json:"window"`
	Channel    string `json:"channel"`
	// Skip are versions ("v1.2.0") automatic updates pass over.
	Skip []string `json:"skip"`
	// Notify are notification URLs (shoutrrr), secrets included.
	Notify []string `json:"notify"`
}

// Defaults are the settings of a node that has no file yet.
func Defaults(autoUpdate bool) Settings {
	return Settings{AutoUpdate: autoUpdate, Channel: Stable, Skip: []string{}, Notify: []string{}}
}

// Load reads the settings in dir (statuses/); a missing file yields def.
func Load(dir *os.Root, def Settings) (Settings, error) {
	data, err := safefs.ReadFile(dir, Name, maxSize)
	if errors.Is(err, fs.ErrNotExist) {
		return def, nil
	}
	if err != nil {
		return Settings{}, fmt.Errorf("read %s: %w", Name, err)
	}
	s, err := def.Apply(data)
	if err != nil {
		return Settings{}, fmt.Errorf("%s: %w", Name, err)
	}
	return s, nil
}

// Save validates s and atomically replaces the file in dir with it, 0600
// and owned as the file it replaces.
func Save(dir *os.Root, s Settings) error {
	if err := s.normalize(); err != nil {
		return err
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", Name, err)
	}
	return safefs.WriteFileKeepOwner(dir, Name, append(data, '\n'), 0o600)
}

// patch is a JSON object of settings; the keys absent stay as they were.
type patch struct {
	AutoUpdate *bool     `json:"auto_update"`
	Window     *Window   `json:"window"`
	Channel    *string   `json:"channel"`
	Skip       *[]string `json:"skip"`
	Notify     *[]string `json:"notify"`
}

// Apply returns s with the keys given in the JSON object data replaced. A
// notify entry equal to Redacted's form of one of s's URLs keeps that URL,
// so a client can send back what GET showed.
func (s Settings) Apply(data []byte) (Settings, error) {
	var p patch
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Settings{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return Settings{}, fmt.Errorf("%w: data after the JSON object", ErrInvalid)
	}
	out := s
	if p.AutoUpdate != nil {
		out.AutoUpdate = *p.AutoUpdate
	}
	if p.Window != nil {
		out.Window = *p.Window
	}
	if p.Channel != nil {
		out.Channel = *p.Channel
	}
	if p.Skip != nil {
		out.Skip = *p.Skip
	}
	if p.Notify != nil {
		out.Notify = unredact(*p.Notify, s.Notify)
	}
	if err := out.normalize(); err != nil {
		return Settings{}, err
	}
	return out, nil
}

// semver is a version with an optional "v" and pre-release.
var semver = regexp.MustCompile(`^v?(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})(-[0-9A-Za-z]+(\.[0-9A-Za-z]+){0,7})?$`)

// normalize checks s and writes its versions as "vX.Y.Z", without
// duplicates; nil lists become empty ones.
func (s *Settings) normalize() error {
	if s.Channel != Stable && s.Channel != Beta {
		return fmt.Errorf("%w: channel %q is neither %q nor %q", ErrInvalid, s.Channel, Stable, Beta)
	}
	if len(s.Skip) > MaxSkip || len(s.Notify) > MaxNotify {
		return fmt.Errorf("%w: at most %d skipped versions and %d notification URLs", ErrInvalid, MaxSkip, MaxNotify)
	}
	skip := make([]string, 0, len(s.Skip))
	for _, v := range s.Skip {
		if !semver.MatchString(v) {
			return fmt.Errorf("%w: skip: %q is not a version such as v1.2.0", ErrInvalid, v)
		}
		if v = "v" + strings.TrimPrefix(v, "v"); !slices.Contains(skip, v) {
			skip = append(skip, v)
		}
	}
	s.Skip = skip
	if s.Notify == nil {
		s.Notify = []string{}
	}
	for i, u := range s.Notify {
		if err := checkURL(u); err != nil {
			return fmt.Errorf("%w: notify entry %d: %v", ErrInvalid, i+1, err)
		}
	}
	return nil
}

// Skips reports whether automatic updates pass over version ("1.2.0" or
// "v1.2.0").
func (s Settings) Skips(version string) bool {
	return slices.Contains(s.Skip, "v"+strings.TrimPrefix(version, "v"))
}

var scheme = regexp.MustCompile(`^[a-z][a-z0-9+.-]{0,31}$`)

// checkURL accepts an absolute URL with a scheme and a host, as every
// shoutrrr service URL has; the message never repeats the URL.
func checkURL(raw string) error {
	if len(raw) > maxURL {
		return fmt.Errorf("URL over %d bytes", maxURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URL")
	}
	if !scheme.MatchString(u.Scheme) || u.Host == "" {
		return errors.New("not a service URL such as ntfy://ntfy.sh/topic (scheme://host/...)")
	}
	return nil
}
