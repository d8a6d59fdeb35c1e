// Package config reads and writes .hoist/config.json, the root-only settings
// of an app root (CONTRACT §2).
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/manifest"
	"github.com/hoist-dev/hoist/internal/safefs"
)

// Config is the content of .hoist/config.json.
type Config struct {
	Repo string `json:"repo"`
	// App, once set, is the only app whose releases install: set by
	// `hoist init --app`, else by the first release installed.
	App string `json:"app,omitempty"`
	// Pubkeys are the keys trusted to sign releases: any one suffices. A
	// release's hoist-keys.json changes them once it is installed.
	Pubkeys       []string `json:"pubkeys"`
	KeepBackups   int      `json:"keep_backups"`
	Protect       []string `json:"protect"`
	ScriptTimeout Duration `json:"script_timeout"`
	// StallTimeout, optional, aborts a release download that receives no
	// byte for this long (absent: the downloader's default). A pointer, so
	// that an explicit "0s" is an error rather than the default.
	StallTimeout *Duration `json:"stall_timeout,omitempty"`
	// MaxReleaseBytes, optional, bounds the sum of a release's file sizes
	// (absent: the downloader's default, 1 GiB); a release over it is
	// refused before its content is inflated. A pointer, like StallTimeout.
	MaxReleaseBytes *int64 `json:"max_release_bytes,omitempty"`
	// TokenFile, optional, is the absolute path of a root-only file whose
	// content is sent as HTTP auth to the release repository (see token.go).
	TokenFile string `json:"token_file,omitempty"`
	// Kind is the kind of release repository: KindGit (also when empty)
	// or KindStatic, a TUF-secured static repository (hoist init detects it).
	Kind string `json:"kind,omitempty"`
	// TargetsURL, optional, replaces REPO/targets/ as the base of a static
	// repository's targets (e.g. a GitHub release's download URL).
	TargetsURL string `json:"targets_url,omitempty"`
	// DownloadRetries, optional, bounds the retries of a transient download
	// failure (absent: DefaultDownloadRetries). A pointer, so "0" is zero.
	DownloadRetries *int `json:"download_retries,omitempty"`
}

// Kinds of release repository.
const (
	KindGit    = "git"
	KindStatic = "static"
)

// DefaultDownloadRetries is download_retries when the config sets none
// (objfetch.DefaultRetries);
// MaxDownloadRetries bounds it, so a dead server ends an update.
const (
	DefaultDownloadRetries = 5
	MaxDownloadRetries     = 100
)

// Static reports whether the release repository is a static one.
func (c Config) Static() bool { return c.Kind == KindStatic }

// FetchRetries is the retry bound to give objfetch: 0, its default
// (DefaultDownloadRetries), when the config sets none; -1 for "0".
func (c Config) FetchRetries() int {
	switch {
	case c.DownloadRetries == nil:
		return 0
	case *c.DownloadRetries == 0:
		return -1
	}
	return *c.DownloadRetries
}

// Bounds of stall_timeout: shorter would abort a slow but live server,
// longer would leave an update hanging on a dead one.
const (
	MinStallTimeout = 5 * time.Second
	MaxStallTimeout = time.Hour
)

// FetchStallTimeout is the stall timeout to give fetch: 0, fetch's own
// default, when the config sets none.
func (c Config) FetchStallTimeout() time.Duration {
	if c.StallTimeout == nil {
		return 0
	}
	return time.Duration(*c.StallTimeout)
}

// FetchMaxBytes is the release size limit to give fetch: 0, fetch's own
// default, when the config sets none.
func (c Config) FetchMaxBytes() int64 {
	if c.MaxReleaseBytes == nil {
		return 0
	}
	return *c.MaxReleaseBytes
}

// Default returns the settings `hoist init` writes.
func Default(repo string, pubkeys []string) Config {
	return Config{
		Repo:          repo,
		Pubkeys:       pubkeys,
		KeepBackups:   2,
		Protect:       []string{"data/"},
		ScriptTimeout: Duration(30 * time.Minute),
	}
}

const maxSize = 1 << 20

// Load reads and validates the config of the app root opened as root.
func Load(root *os.Root) (Config, error) {
	data, err := safefs.ReadFile(root, approot.ConfigFile, maxSize)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return Config{}, fmt.Errorf("parse %s: %w", approot.ConfigFile, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", approot.ConfigFile, err)
	}
	return c, nil
}

// Save writes c atomically, readable by root only.
func Save(root *os.Root, c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	return safefs.WriteFile(root, approot.ConfigFile, append(data, '\n'), 0o600)
}

// Validate checks the settings hoist relies on.
func (c Config) Validate() error {
	switch {
	case c.Repo == "":
		return errors.New("config: repo is empty")
	case len(c.Pubkeys) == 0:
		return errors.New("config: no pubkeys, so no release could be trusted")
	case c.App != "" && manifest.ValidApp(c.App) != nil:
		return fmt.Errorf("config: app: %w", manifest.ValidApp(c.App))
	case c.KeepBackups < 1:
		return fmt.Errorf("config: keep_backups is %d, must be at least 1", c.KeepBackups)
	case c.ScriptTimeout <= 0:
		return errors.New("config: script_timeout must be positive")
	case c.StallTimeout != nil && (*c.StallTimeout < Duration(MinStallTimeout) || *c.StallTimeout > Duration(MaxStallTimeout)):
		return fmt.Errorf("config: stall_timeout is %s, must be between %s and %s",
			time.Duration(*c.StallTimeout), MinStallTimeout, MaxStallTimeout)
	case c.MaxReleaseBytes != nil && *c.MaxReleaseBytes <= 0:
		return fmt.Errorf("config: max_release_bytes is %d, must be positive", *c.MaxReleaseBytes)
	}
	if err := c.validateStatic(); err != nil {
		return err
	}
	if c.TokenFile != "" && !filepath.IsAbs(c.TokenFile) {
		return fmt.Errorf("config: token_file %q must be an absolute path", c.TokenFile)
	}
	return validateProtect(c.Protect)
}

// validateStatic checks the keys of static repositories.
func (c Config) validateStatic() error {
	switch {
	case c.Kind != "" && c.Kind != KindGit && c.Kind != KindStatic:
		return fmt.Errorf("config: kind %q, must be %q or %q", c.Kind, KindGit, KindStatic)
	case c.TargetsURL != "" && !c.Static():
		return errors.New("config: targets_url needs kind \"static\"")
	case c.DownloadRetries != nil && (*c.DownloadRetries < 0 || *c.DownloadRetries > MaxDownloadRetries):
		return fmt.Errorf("config: download_retries is %d, must be between 0 and %d", *c.DownloadRetries, MaxDownloadRetries)
	}
	if c.TargetsURL != "" {
		u, err := url.Parse(c.TargetsURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "file") || u.User != nil {
			return fmt.Errorf("config: targets_url %q must be an http(s) URL without credentials", c.TargetsURL)
		}
	}
	return nil
}

// Duration is a time.Duration written as a string such as "30m".
type Duration time.Duration

// MarshalJSON writes d as a short Go duration string: "30m", not "30m0s".
func (d Duration) MarshalJSON() ([]byte, error) {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return json.Marshal(s)
}

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"30m\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%w (a duration is a string like \"30m\")", err)
	}
	*d = Duration(v)
	return nil
}
