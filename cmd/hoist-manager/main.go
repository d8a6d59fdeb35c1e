// Command hoist-manager serves the HTTP API and web page (CONTRACT §7).
//
//	hoist-manager --root ROOT --listen :3006 --releases URL [--token-file F]
//	              [--releases-token-file F] [--check-interval 6h] [--auto-update]
//	              [--log-format text|json] [--behind-tls-proxy]
//	hoist-manager passwd [--root ROOT] < password-file
//
// The token comes from --token-file or $HOIST_MANAGER_TOKEN; without one the
// manager refuses to start (exit 2).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/cli"
	"github.com/hoist-dev/hoist/internal/discovery"
	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/httpcache"
	"github.com/hoist-dev/hoist/internal/logging"
	"github.com/hoist-dev/hoist/internal/manager"
	"github.com/hoist-dev/hoist/internal/redact"
	"github.com/hoist-dev/hoist/internal/tokenfile"
)

// envToken names the environment variable holding the API token.
const envToken = "HOIST_MANAGER_TOKEN"

func main() { cli.Main("hoist-manager", run) }

func run(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "passwd" {
		return passwd(args[1:], os.Stdin, stderr)
	}
	fs := flag.NewFlagSet("hoist-manager", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rootFlag := fs.String("root", "", "app root (default $HOIST_ROOT, else the current directory)")
	listen := fs.String("listen", ":3006", "address to serve on")
	releases := fs.String("releases", "", "release repository URL, or an http(s) URL template with {ref} returning that ref's info.json")
	tokenFile := fs.String("token-file", "", "file holding the API token (default $"+envToken+")")
	releasesTokenFile := fs.String("releases-token-file", "", "file holding a token sent as HTTP auth to the release repository")
	interval := fs.Duration("check-interval", 6*time.Hour, "how often to check for an update (0: never)")
	auto := fs.Bool("auto-update", false, "request the update when the automatic check finds one")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	fetchTimeout := fs.Duration("fetch-timeout", discovery.DefaultTimeout, "time limit of one read of the release repository")
	behindProxy := fs.Bool("behind-tls-proxy", false, "served through an HTTPS reverse proxy: trust its X-Forwarded-Proto and X-Forwarded-For")
	cacheTTL := fs.Duration("cache-ttl", time.Minute, "how long answers of the release repository are reused")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *releases == "" {
		return fmt.Errorf("%w: --releases is required", exitcode.ErrUsage)
	}
	if *interval < 0 || *fetchTimeout <= 0 || *cacheTTL < 0 {
		return fmt.Errorf("%w: durations must not be negative (and --fetch-timeout positive)", exitcode.ErrUsage)
	}
	log, err := logging.New(stderr, *logFormat)
	if err != nil {
		return fmt.Errorf("%w: %v", exitcode.ErrUsage, err)
	}
	token, err := loadToken(*tokenFile)
	if err != nil {
		return err
	}
	dir, err := approot.Dir(*rootFlag)
	if err != nil {
		return err
	}
	releasesToken, err := loadReleasesToken(*releasesTokenFile)
	if err != nil {
		return err
	}
	src, err := discovery.Detect(*releases, releasesToken, httpcache.NewMemory(), discovery.PublishedRoot(filepath.Join(dir, approot.StatusesDir)))
	if err != nil {
		return fmt.Errorf("%w: %v", exitcode.ErrUsage, err)
	}
	srv, err := manager.New(manager.Config{
		Root:          dir,
		Token:         token,
		Finder:        discovery.NewFinder(src, *cacheTTL, *fetchTimeout),
		Log:           log,
		CheckInterval: *interval,
		AutoUpdate:    *auto,
		TLSProxy:      *behindProxy,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	log.WithFields(map[string]any{"root": dir, "releases": redact.URL(*releases)}).Info("hoist-manager starting")
	return srv.Run(ctx, ln)
}

// loadToken reads the API token from file, else from the environment.
func loadToken(file string) (string, error) {
	if file == "" {
		if tok := strings.TrimSpace(os.Getenv(envToken)); tok != "" {
			return tok, nil
		}
		return "", fmt.Errorf("%w: no API token: set --token-file or $%s", exitcode.ErrUsage, envToken)
	}
	tok, err := tokenfile.Read(file)
	if errors.Is(err, tokenfile.ErrEmpty) {
		return "", fmt.Errorf("%w: no API token: %v", exitcode.ErrUsage, err)
	}
	return tok, err
}

// loadReleasesToken reads the release repository's token, if any.
func loadReleasesToken(file string) (string, error) {
	if file == "" {
		return "", nil
	}
	tok, err := tokenfile.Read(file)
	if err != nil {
		return "", fmt.Errorf("releases token: %w", err)
	}
	return tok, nil
}
