package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"

	"github.com/hoist-dev/hoist/internal/release"
)

// releaseCommands are the subcommands of `hoist release`, for maintainers.
func releaseCommands() map[string]command {
	return map[string]command{
		"keygen": {"make a minisign key pair for signing releases", runReleaseKeygen},
		"sign":   {"write the signed manifest of a release work tree", runReleaseSign},
		"verify": {"check a release tree against its signed manifest", runReleaseVerify},
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
			fmt.Fprintf(s.err, "  %-7s %s\n", name, cmds[name].summary)
		}
		if len(args) == 0 {
			return usageError("missing subcommand")
		}
		return flag.ErrHelp
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		return usageError(fmt.Sprintf("unknown subcommand %q (keygen, sign, verify)", args[0]))
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
	fs := newFlags(s, "release sign", "--key KEY [--password-file F] DIR")
	key := fs.String("key", "", "minisign secret key")
	passwordFile := fs.String("password-file", "", "password of an encrypted key")
	if err := fs.parse(args, 1, 1); err != nil {
		return err
	}
	if err := fs.require("key", *key); err != nil {
		return err
	}
	dir := fs.positional[0]
	if err := release.Sign(ctx, dir, *key, *passwordFile); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "signed %s\n", dir)
	return nil
}

func runReleaseVerify(ctx context.Context, s streams, args []string) error {
	fs := newFlags(s, "release verify", "--pub PUB DIR")
	pubFile := fs.String("pub", "", "minisign public key trusted to sign releases")
	if err := fs.parse(args, 1, 1); err != nil {
		return err
	}
	if err := fs.require("pub", *pubFile); err != nil {
		return err
	}
	pub, err := release.ReadPublicKeyFile(*pubFile)
	if err != nil {
		return err
	}
	dir := fs.positional[0]
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	m, err := release.VerifyDir(ctx, root, []string{pub}, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "ok: %s is release %s, %d files verified\n", dir, m.Version, len(m.Files))
	return nil
}

// require returns a usage error if the required flag name has no value.
func (fs *flagSet) require(name, value string) error {
	if value != "" {
		return nil
	}
	fs.Usage()
	return usageError("--" + name + " is required")
}
