package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/release"
	"github.com/hoist-dev/hoist/internal/safefs"
)

// releaseCommands are the subcommands of `hoist release`, for maintainers.
func releaseCommands() map[string]command {
	return map[string]command{
		"keygen":      {"make a minisign key pair for signing releases", runReleaseKeygen},
		"publish":     {"sign a release into a static release repository", runReleasePublish},
		"refresh":     {"re-sign a static release repository's timestamp", runReleaseRefresh},
		"rollout":     {"set a release's phased rollout (git: info.json of the default branch; static: re-signed metadata)", runReleaseRollout},
		"rotate-root": {"give a static release repository new TUF keys", runReleaseRotateRoot},
		"sign":        {"write the signed manifest of a release work tree", runReleaseSign},
		"verify":      {"check a release tree against its signed manifest", runReleaseVerify},
	}
}

func runRelease(ctx context.Context, s streams, args []string) error {
	cmds := releaseCommands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		names := make([]string, 0, len(cmds))
		for name := range cmds {
			names = append(names, name)
		}
		sort.Strings(names)
		fmt.Fprintln(s.err, "usage: hoist release SUBCOMMAND [options]\n\nsubcommands:")
		for _, name := range names {
			fmt.Fprintf(s.err, "  %-11s %s\n", name, cmds[name].summary)
		}
		if len(args) == 0 {
			return usageError("missing subcommand")
		}
		return flag.ErrHelp
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		return usageError(fmt.Sprintf("unknown subcommand %q (keygen, publish, refresh, rollout, rotate-root, sign, verify)", args[0]))
	}
	return cmd.run(ctx, s, args[1:])
}

func runReleaseKeygen(ctx context.Context, s streams, args []string) error {
	fs := newFlags(s, "release keygen", "--out PREFIX [--password-file F]")
	out := fs.String("out", "", "write PREFIX.key (secret, mode 0600) and PREFIX.pub")
	passwordFile := fs.String("password-file", "", "encrypt the secret key with the password in this file")
	if err := fs.parse(args, 0, 0); err != nil {
		return err
	}
	if err := fs.require("out", *out); err != nil {
		return err
	}
	password := ""
	if *passwordFile != "" {
		var err error
		if password, err = release.ReadPasswordFile(*passwordFile); err != nil {
			return err
		}
	}
	if err := release.GenerateKey(*out, password); err != nil {
		return err
	}
	pub, err := release.ReadPublicKeyFile(*out + ".pub")
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "wrote %s.key and %s.pub\npublic key: %s\n", *out, *out, pub)
	return nil
}

func runReleaseSign(ctx context.Context, s streams, args []string) error {
	fs := newFlags(s, "release sign", "--key KEY [--key KEY2...] [--app ID] [--password-file F] DIR")
	keys := fs.List("key", "minisign secret key; repeat to sign with several keys (the first signature is the one minisign -V checks)")
	app := fs.String("app", "", `app id of the release (default: "app" of info.json)`)
	passwordFile := fs.String("password-file", "", "password of the encrypted keys")
	if err := fs.parse(args, 1, 1); err != nil {
		return err
	}
	if err := fs.require("key", keys.String()); err != nil {
		return err
	}
	dir := fs.positional[0]
	if err := release.Sign(ctx, dir, release.SignOptions{Keys: *keys, PasswordFile: *passwordFile, App: *app}); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "signed %s with %d key(s)\n", dir, len(*keys))
	return nil
}

func runReleaseVerify(ctx context.Context, s streams, args []string) error {
	fs := newFlags(s, "release verify", "--pub PUB [--pub PUB2...] [--app ID] DIR")
	pubFiles := fs.List("pub", "minisign public key trusted to sign releases; repeat to trust several")
	app := fs.String("app", "", "refuse a release of another app")
	if err := fs.parse(args, 1, 1); err != nil {
		return err
	}
	if err := fs.require("pub", pubFiles.String()); err != nil {
		return err
	}
	pubkeys, err := readPublicKeys(*pubFiles)
	if err != nil {
		return err
	}
	dir := fs.positional[0]
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	m, err := release.VerifyDir(ctx, root, pubkeys, "")
	if err != nil {
		return err
	}
	if *app != "" && m.App != *app {
		return fmt.Errorf("%w: %s is a release of app %q, not %q", exitcode.ErrRejected, dir, m.App, *app)
	}
	files, err := release.ReadFiles(func(name string, limit int64) ([]byte, error) { return safefs.ReadFile(root, name, limit) })
	if err != nil {
		return err
	}
	trust, err := release.Adopt(pubkeys, files)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "ok: %s is release %s of app %s, %d files verified\n", dir, m.Version, m.App, len(m.Files))
	if !slices.Equal(trust.Pubkeys, pubkeys) {
		fmt.Fprintf(s.out, "once installed, its %s makes the node trust:\n  %s\n", release.KeysFile, strings.Join(trust.Pubkeys, "\n  "))
	}
	return nil
}

// readPublicKeys reads the key lines of minisign public key files.
func readPublicKeys(files []string) ([]string, error) {
	keys := make([]string, len(files))
	for i, f := range files {
		var err error
		if keys[i], err = release.ReadPublicKeyFile(f); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// require returns a usage error if the required flag name has no value.
func (fs *flagSet) require(name, value string) error {
	if value != "" {
		return nil
	}
	fs.Usage()
	return usageError("--" + name + " is required")
}
