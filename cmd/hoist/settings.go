package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/settings"
)

// runSettings prints the owner's settings (statuses/settings.json, the file
// the manager serves at /v1/system/settings) without secrets, after
// changing what the flags say. The file stays the manager's.
func runSettings(ctx context.Context, s streams, args []string) error {
	flags := newFlags(s, "settings", "[--auto-update on|off] [--window HH:MM-HH:MM] [--channel stable|beta] [--skip V] [--unskip V] [--notify URL]...")
	auto := flags.String("auto-update", "", "on or off: whether the manager updates by itself")
	window := flags.String("window", "", `daily local time window for automatic updates, e.g. 03:00-05:00 ("": any time)`)
	channel := flags.String("channel", "", "stable or beta")
	skip := flags.List("skip", "a version automatic updates pass over (repeatable)")
	unskip := flags.List("unskip", "a version to stop skipping (repeatable)")
	notify := flags.List("notify", `a notification URL (repeatable); the ones given replace the list, "" clears it`)
	if err := flags.parse(args, 0, 0); err != nil {
		return err
	}
	statuses, err := flags.openStatuses()
	if err != nil {
		return err
	}
	defer statuses.Close()
	given := map[string]bool{}
	flags.Visit(func(f *flag.Flag) { given[f.Name] = true })
	delete(given, "root")
	// Without a file, auto-update follows the manager's --auto-update flag,
	// which only the manager knows: the first write must say it.
	_, err = statuses.Lstat(settings.Name)
	noFile := errors.Is(err, fs.ErrNotExist)
	if noFile && len(given) > 0 && !given["auto-update"] {
		return usageError("no settings yet: give --auto-update on|off with the first change")
	}
	st, err := settings.Load(statuses, settings.Defaults(false))
	if err != nil {
		return err
	}
	if len(given) == 0 {
		if noFile {
			fmt.Fprintln(s.err, "no settings yet: auto_update follows the manager's --auto-update flag")
		}
		return printJSON(s, st.Redacted())
	}
	if given["auto-update"] {
		switch *auto {
		case "on":
			st.AutoUpdate = true
		case "off":
			st.AutoUpdate = false
		default:
			return usageError("--auto-update is on or off")
		}
	}
	if given["window"] {
		if st.Window, err = settings.ParseWindow(*window); err != nil {
			return usageError(err.Error())
		}
	}
	if given["channel"] {
		st.Channel = *channel
	}
	st.Skip = append(st.Skip, *skip...)
	st.Skip = slices.DeleteFunc(st.Skip, func(v string) bool {
		return slices.ContainsFunc(*unskip, func(u string) bool { return strings.TrimPrefix(u, "v") == strings.TrimPrefix(v, "v") })
	})
	if given["notify"] {
		st.Notify = slices.DeleteFunc(slices.Clone(*notify), func(u string) bool { return u == "" })
	}
	err = settings.Save(statuses, st)
	if errors.Is(err, settings.ErrInvalid) {
		return usageError(err.Error())
	}
	if err != nil {
		return err
	}
	// Print what was stored: Save normalizes the versions.
	if st, err = settings.Load(statuses, st); err != nil {
		return err
	}
	return printJSON(s, st.Redacted())
}

// ownerBeta reports whether the owner chose the beta channel, so that
// hoist check and hoist update offer what the manager's get-update does;
// settings that cannot be read mean stable, as in the manager.
func ownerBeta(root *os.Root) bool {
	statuses, err := root.OpenRoot(approot.StatusesDir)
	if err != nil {
		return false
	}
	defer statuses.Close()
	st, err := settings.Load(statuses, settings.Defaults(false))
	return err == nil && st.Channel == settings.Beta
}
