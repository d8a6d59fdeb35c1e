package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"aead.dev/minisign"

	"github.com/hoist-dev/hoist"
	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/config"
	"github.com/hoist-dev/hoist/internal/manifest"
	"github.com/hoist-dev/hoist/internal/nodeid"
	"github.com/hoist-dev/hoist/internal/redact"
	"github.com/hoist-dev/hoist/internal/tufclient"
)

func runInit(ctx context.Context, s streams, args []string) error {
	fs := newFlags(s, "init", "ROOT --repo URL --pub KEYFILE [--pub KEYFILE2...] [--app ID] [--protect PATHS] [--manager-uid N] [--manager-gid N]")
	repo := fs.String("repo", "", "release repository URL (file://, http(s)://, ssh)")
	pubFiles := fs.List("pub", "minisign public key trusted to sign releases; repeat to trust several")
	app := fs.String("app", "", "install only releases of this app (default: the app of the first release installed)")
	uid := fs.Int("manager-uid", 1000, "uid owning events/signals/ and statuses/")
	gid := fs.Int("manager-gid", 1000, "gid owning events/signals/ and statuses/")
	protect := fs.String("protect", "data/", "comma-separated `paths`, relative to ROOT, that no update writes or deletes")
	targetsURL := fs.String("targets-url", "", "static repositories: base URL of the targets, instead of URL/targets/")
	if err := fs.parse(args, 0, 1); err != nil {
		return err
	}
	if len(fs.positional) == 1 {
		fs.root = fs.positional[0]
	}
	dir, err := fs.rootDir()
	if err != nil {
		return err
	}
	if *repo == "" || len(*pubFiles) == 0 {
		fs.Usage()
		return usageError("--repo and --pub are required")
	}
	if *app != "" {
		if err := manifest.ValidApp(*app); err != nil {
			return usageError("--app: " + err.Error())
		}
	}
	pubkeys := make([]string, len(*pubFiles))
	for i, f := range *pubFiles {
		pub, err := minisign.PublicKeyFromFile(f)
		if err != nil {
			return fmt.Errorf("public key %s: %w", f, err)
		}
		pubkeys[i] = pub.String()
	}
	cfg := config.Default(*repo, pubkeys)
	cfg.App = *app
	cfg.Protect = strings.Split(*protect, ",")
	cfg.TargetsURL = *targetsURL
	rootJSON, err := detectStatic(ctx, s, &cfg)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return usageError(err.Error())
	}
	root, err := approot.Init(dir, approot.InitOptions{Templates: hoist.Templates, ManagerUID: *uid, ManagerGID: *gid})
	if err != nil {
		return err
	}
	defer root.Close()
	if _, err := nodeid.Ensure(root, nodeid.HostID()); err != nil {
		return err
	}
	if rootJSON != nil {
		if err := tufclient.Bootstrap(filepath.Join(dir, tufclient.StateDir), rootJSON); err != nil {
			return err
		}
	}
	if err := publishRoot(root); err != nil {
		return err
	}
	if err := config.Save(root, cfg); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "initialised app root %s (releases from %s)\n", dir, redact.URL(*repo))
	return nil
}

// publishRoot gives the manager the trusted root just pinned (or removes
// the copy of an earlier init for a static repository).
func publishRoot(root *os.Root) error {
	statuses, err := root.OpenRoot(approot.StatusesDir)
	if err != nil {
		return err
	}
	defer statuses.Close()
	return tufclient.PublishRoot(root, statuses)
}

// detectStatic sets cfg.Kind: static when cfg.Repo serves TUF metadata,
// whose root must then be signed by a pinned key (no trust on first use);
// it returns that root. A repository that cannot be probed is git's.
func detectStatic(ctx context.Context, s streams, cfg *config.Config) ([]byte, error) {
	rootJSON, static, err := tufclient.Detect(ctx, cfg.Repo, "")
	if err != nil {
		fmt.Fprintf(s.err, "note: %v; recording %s as a git repository\n", err, redact.URL(cfg.Repo))
	}
	if !static {
		return nil, nil // kind absent: git
	}
	if err := tufclient.CheckRoot(rootJSON, cfg.Pubkeys); err != nil {
		return nil, fmt.Errorf("static release repository %s: %w", redact.URL(cfg.Repo), err)
	}
	cfg.Kind = config.KindStatic
	return rootJSON, nil
}
