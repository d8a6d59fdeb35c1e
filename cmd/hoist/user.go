package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"time"

	"github.com/hashicorp/go-version"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/config"
	"github.com/hoist-dev/hoist/internal/discovery"
	"github.com/hoist-dev/hoist/internal/httpcache"
	"github.com/hoist-dev/hoist/internal/nodeid"
	"github.com/hoist-dev/hoist/internal/request"
	"github.com/hoist-dev/hoist/internal/safefs"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/tag"
	"github.com/hoist-dev/hoist/internal/tufclient"
)

// The user commands (CONTRACT §8). They ask for updates exactly as the
// manager does, through packages discovery and request.

// runStatus prints the status as the status file's JSON, the same bytes
// GET /v1/system/update-status answers, so scripts can read it with jq.
func runStatus(ctx context.Context, s streams, args []string) error {
	fs := newFlags(s, "status", "[--watch]")
	watch := fs.Bool("watch", false, "follow the update until it succeeds (exit 0) or fails (exit 1): a progress bar on a terminal, else one line per change")
	if err := fs.parse(args, 0, 0); err != nil {
		return err
	}
	statuses, err := fs.openStatuses()
	if err != nil {
		return err
	}
	defer statuses.Close()
	if *watch {
		return watchUpdate(ctx, s, statuses)
	}
	st, err := statusfile.Read(statuses)
	if err != nil {
		return err
	}
	return printJSON(s, st)
}

func runCheck(ctx context.Context, s streams, args []string) error {
	fs := newFlags(s, "check", "")
	if err := fs.parse(args, 0, 0); err != nil {
		return err
	}
	dir, err := fs.rootDir()
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("app root: %w", err)
	}
	defer root.Close()
	finder, installed, err := openReleases(root)
	if err != nil {
		return err
	}
	defer finder.Close()
	u, err := finder.NextOn(ctx, installed, ownerBeta(root))
	if err != nil {
		return err
	}
	held := discovery.Hold(u, nodeid.Lookup(root), time.Now())
	if held != nil {
		fmt.Fprintf(s.err, "v%s is rolling out to %g %%; this node will get it later (`hoist update` installs it now)\n", held.Version, held.Percent)
	}
	return printJSON(s, discovery.Answer(u, held))
}

func runUpdate(ctx context.Context, s streams, args []string) error {
	fs := newFlags(s, "update", "[--to vX.Y.Z] [--wait]")
	// No backquotes in these usages: package flag would print the quoted
	// words as the flag's argument name ("-to hoist check").
	to := fs.String("to", "", "`vX.Y.Z`, the release to install (default: the one \"hoist check\" names)")
	wait := fs.Bool("wait", false, "follow the update like \"hoist status --watch\"; exit 1 if it fails")
	if err := fs.parse(args, 0, 0); err != nil {
		return err
	}
	if *to != "" {
		if _, err := tag.Parse(*to); err != nil {
			return usageError(err.Error())
		}
	}
	dir, err := fs.rootDir()
	if err != nil {
		return err
	}
	dirs, err := request.OpenDirs(dir)
	if err != nil {
		return err
	}
	defer dirs.Close()
	// Exit 3 at once rather than after asking a slow repository.
	if err := request.Busy(dirs); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("app root: %w", err)
	}
	defer root.Close()
	finder, installed, err := openReleases(root)
	if err != nil {
		return err
	}
	defer finder.Close()
	target, err := finder.TargetOn(ctx, installed, *to, ownerBeta(root))
	if err != nil {
		return err
	}
	if err := request.Update(ctx, dirs, target); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "Updating to %s\n", target)
	if !*wait {
		return nil
	}
	return watchUpdate(ctx, s, dirs.Statuses)
}

// releases is a Finder for the repository in a root's config, with the
// store of what it read: Close it.
type releases struct {
	*discovery.Finder
	close func() error
}

func (r releases) Close() error { return r.close() }

// openReleases returns the releases of the repository in root's config and
// the installed version (nil when none).
func openReleases(root *os.Root) (releases, *version.Version, error) {
	cfg, err := config.Load(root)
	if err != nil {
		return releases{}, nil, err
	}
	token, err := cfg.Token()
	if err != nil {
		return releases{}, nil, err
	}
	store, closeStore := checkStore(root)
	src, err := openSource(root, cfg, token, store)
	if err != nil {
		closeStore()
		return releases{}, nil, err
	}
	installed, err := discovery.InstalledVersion(root)
	if err != nil {
		closeStore()
		return releases{}, nil, err
	}
	return releases{discovery.NewFinder(src, 0, 0), closeStore}, installed, nil
}

// checkStore keeps what checks read under .hoist/, so that the next run's
// requests are conditional too (issue 16 §3). A user who cannot write there
// (not root) checks with a store in memory: unconditional, but as correct.
func checkStore(root *os.Root) (httpcache.Store, func() error) {
	memory := func() (httpcache.Store, func() error) { return httpcache.NewMemory(), func() error { return nil } }
	if err := root.Mkdir(approot.CheckCacheDir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return memory()
	}
	dir, err := root.OpenRoot(approot.CheckCacheDir)
	if err != nil {
		return memory()
	}
	return httpcache.NewDir(dir, checkCacheBody), dir.Close
}

// checkCacheBody caps one remembered answer: an info.json or a static
// repository's timestamp.json, both small.
const checkCacheBody = 1 << 20

// openSource opens the release repository of cfg, remembering answers in
// store; a static one through the root `hoist init` pinned.
func openSource(root *os.Root, cfg config.Config, token string, store httpcache.Store) (discovery.Source, error) {
	if !cfg.Static() {
		return discovery.OpenStore(cfg.Repo, token, store)
	}
	pinned, err := safefs.ReadFile(root, path.Join(tufclient.StateDir, tufclient.RootFile), tufclient.MaxRoot)
	if err != nil {
		return nil, fmt.Errorf("trusted release metadata: %w", err)
	}
	opts := tufclient.Options{URL: cfg.Repo, TargetsURL: cfg.TargetsURL, Root: pinned, Token: token, Retries: cfg.FetchRetries()}
	return discovery.OpenStatic(opts, store), nil
}

// printJSON prints v as one line of JSON, without HTML escaping, as the
// manager answers it.
func printJSON(s streams, v any) error {
	enc := json.NewEncoder(s.out)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
