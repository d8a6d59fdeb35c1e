package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// release describes a generated release: files data files of size random
// (incompressible) bytes each, file i's bytes chosen by variant(i), plus
// info.json and four update scripts that do nothing.
type release struct {
	version string // "1.0.0"
	files   int
	size    int
	variant func(i int) uint64
}

// dataFile is the path of data file i: 100 files per directory.
func dataFile(i int) string { return fmt.Sprintf("app/d%03d/f%05d.bin", i/100, i) }

// noopScript is every update script of a generated release: the scripts
// phase then measures hoist's cost of running them, not their work.
const noopScript = "#!/bin/sh\nexit 0\n"

// makeRepo creates the git repository b.path("repos", name) holding rels,
// each signed with `hoist release sign` and tagged v<version> (annotated),
// then packs it as a hosted repository would be. each, if not nil, is
// called with the work tree of every release once it is tagged.
func (b *suite) makeRepo(ctx context.Context, name string, each func(tree string) error, rels ...release) (string, error) {
	dir := b.path("repos", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	git := func(args ...string) error {
		_, err := b.run(ctx, dir, "git", append([]string{
			"-c", "user.name=hoistbench", "-c", "user.email=bench@hoist.invalid",
			"-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", "-c", "gc.auto=0",
			"-c", "core.autocrlf=false",
		}, args...)...)
		return err
	}
	if err := git("init", "-q", "-b", "main"); err != nil {
		return "", err
	}
	for _, rel := range rels {
		b.logf("   generating %s v%s: %d files of %d bytes", name, rel.version, rel.files, rel.size)
		if err := writeRelease(dir, rel); err != nil {
			return "", fmt.Errorf("generate %s v%s: %w", name, rel.version, err)
		}
		if _, err := b.run(ctx, dir, b.hoist, "release", "sign", "--key", b.key, dir); err != nil {
			return "", err
		}
		tg := "v" + rel.version
		for _, args := range [][]string{{"add", "-A"}, {"commit", "-q", "-m", "Release " + tg}, {"tag", "-a", "-m", "Release " + tg, tg}} {
			if err := git(args...); err != nil {
				return "", err
			}
		}
		if each != nil {
			if err := each(dir); err != nil {
				return "", err
			}
		}
	}
	// Random bytes never delta; window 0 only saves the time of trying.
	if err := git("-c", "pack.window=0", "repack", "-a", "-d", "-q"); err != nil {
		return "", err
	}
	return dir, nil
}

// serveRepo makes the repository name (see makeRepo) and serves the
// repositories over smart HTTP; the caller closes the server.
func (b *suite) serveRepo(ctx context.Context, name string, rels ...release) (string, *gitServer, error) {
	dir, err := b.makeRepo(ctx, name, nil, rels...)
	if err != nil {
		return "", nil, err
	}
	g, err := serveGit(filepath.Dir(dir))
	return dir, g, err
}

// writeRelease writes rel's files into the work tree dir, replacing what
// the previous release there left (releases of one repo keep or add
// files, never drop them).
func writeRelease(dir string, rel release) error {
	info := fmt.Sprintf(`{"version":%q,"app":"bench","name":"bench","notes":"Release %s"}`+"\n", rel.version, rel.version)
	if err := os.WriteFile(filepath.Join(dir, "info.json"), []byte(info), 0o644); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "scripts", "update"), 0o755); err != nil {
		return err
	}
	for n := range 4 {
		p := filepath.Join(dir, "scripts", "update", fmt.Sprintf("%02d-run.sh", n))
		if err := os.WriteFile(p, []byte(noopScript), 0o755); err != nil {
			return err
		}
	}
	buf := make([]byte, (rel.size+7)/8*8)
	for i := range rel.files {
		rng := rand.New(rand.NewPCG(rel.variant(i), uint64(i)))
		for j := 0; j < len(buf); j += 8 {
			binary.LittleEndian.PutUint64(buf[j:], rng.Uint64())
		}
		p := filepath.Join(dir, filepath.FromSlash(dataFile(i)))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, buf[:rel.size], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// same gives every file the same content.
func same(v uint64) func(int) uint64 { return func(int) uint64 { return v } }
