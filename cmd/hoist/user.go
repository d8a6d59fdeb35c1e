package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-version"
	"github.com/schollz/progressbar/v3"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/config"
	"github.com/hoist-dev/hoist/internal/discovery"
	"github.com/hoist-dev/hoist/internal/nodeid"
	"github.com/hoist-dev/hoist/internal/request"
	"github.com/hoist-dev/hoist/internal/statusfile"
	"github.com/hoist-dev/hoist/internal/tag"
)

// The user commands (CONTRACT §8). They ask for updates exactly as the
// manager does, through packages discovery and request.

// watchPoll is how often --watch and --wait re-read the status behind fsnotify.
const watchPoll = time.Second

// errUpdateFailed is returned when a watched update ends in state failed.
var errUpdateFailed = errors.New("update failed")

// runStatus prints the status as the status file's JSON, the same bytes
// GET /v1/system/update-status answers, so scripts can read it with jq.
func runStatus(ctx context.Context, s streams, args []string) error {
	fs := newFlags(s, "status", "[--watch]")
	watch := fs.Bool("watch", false, "show a progress bar until the update succeeds (exit 0) or fails (exit 1)")
	if err := fs.parse(args, 0, 0); err != nil {
		return err
	}
	dir, err := fs.rootDir()
	if err != nil {
		return err
	}
	statuses, err := os.OpenRoot(filepath.Join(dir, approot.StatusesDir))
	if err != nil {
		return fmt.Errorf("open statuses directory: %w", err)
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
	finder, installed, err := openReleases(dir)
	if err != nil {
		return err
	}
	u, err := finder.Next(ctx, installed)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("app root: %w", err)
	}
	defer root.Close()
	held := discovery.Hold(u, nodeid.Lookup(root), time.Now())
	if held != nil {
		fmt.Fprintf(s.err, "v%s is rolling out to %g %%; this node will get it later (`hoist update` installs it now)\n", held.Version, held.Percent)
	}
	return printJSON(s, discovery.Answer(u, held))
}

func runUpdate(ctx context.Context, s streams, args []string) error {
	fs := newFlags(s, "update", "[--to vX.Y.Z] [--wait]")
	to := fs.String("to", "", "release to install (default: the one `hoist check` names)")
	wait := fs.Bool("wait", false, "follow the update like `status --watch`; exit 1 if it fails")
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
	finder, installed, err := openReleases(dir)
	if err != nil {
		return err
	}
	target, err := finder.Target(ctx, installed, *to)
	if err != nil {
		return err
	}
	if err := request.Update(dirs, target); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "Updating to %s\n", target)
	if !*wait {
		return nil
	}
	return watchUpdate(ctx, s, dirs.Statuses)
}

// openReleases returns a Finder for the repository in the root's config
// and the installed version (nil when none).
func openReleases(dir string) (*discovery.Finder, *version.Version, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("app root: %w", err)
	}
	defer root.Close()
	cfg, err := config.Load(root)
	if err != nil {
		return nil, nil, err
	}
	src, err := discovery.Open(cfg.Repo)
	if err != nil {
		return nil, nil, err
	}
	installed, err := discovery.InstalledVersion(root)
	if err != nil {
		return nil, nil, err
	}
	return discovery.NewFinder(src, 0, 0), installed, nil
}

// watchUpdate draws the status as a progress bar on stderr until the state
// is success or failed.
func watchUpdate(ctx context.Context, s streams, statuses *os.Root) error {
	bar := progressbar.NewOptions(100,
		progressbar.OptionSetWriter(s.err),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionSetRenderBlankState(true),
	)
	var last statusfile.Status
	err := request.Watch(ctx, statuses, watchPoll, func(st statusfile.Status) bool {
		last = st
		bar.Describe(describe(st))
		bar.Set(st.Progress)
		return st.State != statusfile.Installing
	})
	fmt.Fprintln(s.err)
	if err != nil {
		return err
	}
	if last.State == statusfile.Failed {
		return fmt.Errorf("%w: %s", errUpdateFailed, last.Description)
	}
	if last.Description == "" {
		fmt.Fprintln(s.out, last.State)
	} else {
		fmt.Fprintf(s.out, "%s: %s\n", last.State, last.Description)
	}
	return nil
}

// describe is the bar's label: the target and the description, kept short
// so the bar fits on one line.
func describe(st statusfile.Status) string {
	d := st.Description
	if st.UpdateTo != "" {
		d = st.UpdateTo + " " + d
	}
	if r := []rune(d); len(r) > 48 {
		d = string(r[:47]) + "…"
	}
	return fmt.Sprintf("%-48s", d)
}

// printJSON prints v as one line of JSON, without HTML escaping, as the
// manager answers it.
func printJSON(s streams, v any) error {
	enc := json.NewEncoder(s.out)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
