package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hoist-dev/hoist/internal/tufrepo"
)

func runReleasePublish(ctx context.Context, s streams, args []string) error {
	fs := newFlags(s, "release publish", "--key KEY --out DIR [--expires 30d] [--tarball] [--root-key KEY] [--app ID] [--password-file F] SRC")
	out, keys, expires := repoFlags(fs)
	rootKey := fs.String("root-key", "", "separate root key (default: --key); needed to create DIR and to renew its root")
	app := fs.String("app", "", `app id of the release (default: "app" of info.json)`)
	withTarball := fs.Bool("tarball", false, "also write the release as one target vX.Y.Z/APP.tar.gz (for a GitHub or Gitea release)")
	if err := fs.parse(args, 1, 1); err != nil {
		return err
	}
	d, err := checkRepoFlags(fs, *out, keys.Key, *expires)
	if err != nil {
		return err
	}
	keys.RootKey = *rootKey
	res, err := tufrepo.Publish(ctx, fs.positional[0], *out, tufrepo.Options{Keys: *keys, App: *app, Expires: d, Tarball: *withTarball})
	if err != nil {
		return err
	}
	if res.Unchanged {
		fmt.Fprintf(s.out, "%s is already published in %s, unchanged\n", res.Tag, *out)
		return nil
	}
	fmt.Fprintf(s.out, "published %s to %s: %d new objects, %d bytes\n", res.Tag, *out, res.Objects, res.Bytes)
	return nil
}

func runReleaseRefresh(ctx context.Context, s streams, args []string) error {
	fs := newFlags(s, "release refresh", "--key KEY --out DIR [--expires 30d] [--root-key KEY] [--password-file F]")
	out, keys, expires := repoFlags(fs)
	fs.StringVar(&keys.RootKey, "root-key", "", "separate root key (default: --key), to renew a root that ends within 90 days")
	if err := fs.parse(args, 0, 0); err != nil {
		return err
	}
	d, err := checkRepoFlags(fs, *out, keys.Key, *expires)
	if err != nil {
		return err
	}
	if err := tufrepo.Refresh(*out, *keys, time.Now(), d); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "re-signed the metadata of %s\n", *out)
	return nil
}

// repoFlags declares the flags publish and refresh share.
func repoFlags(fs *flagSet) (out *string, keys *tufrepo.Keys, expires *string) {
	keys = &tufrepo.Keys{}
	fs.StringVar(&keys.Key, "key", "", "minisign secret key: signs the release and the repository's metadata")
	fs.StringVar(&keys.PasswordFile, "password-file", "", "password of encrypted keys")
	out = fs.String("out", "", "the static release repository directory")
	expires = fs.String("expires", "30d", "lifetime of timestamp.json: days such as 30d or a Go duration such as 72h")
	return out, keys, expires
}

func checkRepoFlags(fs *flagSet, out, key, expires string) (time.Duration, error) {
	if err := fs.require("key", key); err != nil {
		return 0, err
	}
	if err := fs.require("out", out); err != nil {
		return 0, err
	}
	d, err := parseExpiry(expires)
	if err != nil {
		return 0, usageError(fmt.Sprintf("--expires %q: %v", expires, err))
	}
	return d, nil
}

// parseExpiry reads "30d" (days) or a Go duration ("72h", "2s").
func parseExpiry(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, errors.New("not a number of days")
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, err
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("must be positive")
	}
	return d, nil
}

func runReleaseRotateRoot(ctx context.Context, s streams, args []string) error {
	fs := newFlags(s, "release rotate-root", "--key ROOT_KEY --new-key KEY [--new-root-key KEY] --out DIR [--expires 30d] [--password-file F]")
	out, keys, expires := repoFlags(fs)
	newKeys := tufrepo.Keys{}
	fs.StringVar(&newKeys.Key, "new-key", "", "the new targets, snapshot and timestamp key (and root key, unless --new-root-key)")
	fs.StringVar(&newKeys.RootKey, "new-root-key", "", "the new root key")
	if err := fs.parse(args, 0, 0); err != nil {
		return err
	}
	d, err := checkRepoFlags(fs, *out, keys.Key, *expires)
	if err != nil {
		return err
	}
	if err := fs.require("new-key", newKeys.Key); err != nil {
		return err
	}
	newKeys.PasswordFile = keys.PasswordFile
	if err := tufrepo.RotateRoot(*out, keys.Key, newKeys, time.Now(), d); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "rotated the root of %s: nodes follow it on their next refresh\n", *out)
	return nil
}
