package engine

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/backup"
	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/install"
	"github.com/hoist-dev/hoist/internal/manifest"
	releasepkg "github.com/hoist-dev/hoist/internal/release"
)

// VerifyResult is what Verify found and, with fix, mended.
type VerifyResult struct {
	Version  string             // the live release, e.g. "1.1.0"
	Problems []manifest.Problem // live files that differ from the manifest
	Fixed    []string           // paths restored by fix
	Unfixed  []manifest.Problem // problems fix could not mend
}

// ErrModified means live files differ from the live manifest.
var ErrModified = fmt.Errorf("%w: live files differ from the release", exitcode.ErrRejected)

// Verify compares the live files with the live manifest, whose signature
// it checks first. With fix it restores each differing file from a copy
// that has the manifest's content: the staging clone of the live release,
// a kept backup, or else a fresh download of the live release. The error
// wraps ErrModified when problems remain.
func (e *Engine) Verify(ctx context.Context, fix bool) (VerifyResult, error) {
	var res VerifyResult
	if fix {
		// Lock before reading: a tree hashed while an update changes it
		// would be mended from a stale view.
		l, err := e.lock()
		if err != nil {
			return res, err
		}
		defer l.Release()
	}
	live, err := e.installed()
	if err != nil {
		return res, err
	}
	if live.version == nil || live.manifest == nil {
		return res, errors.New("no release with a manifest is installed")
	}
	res.Version = live.version.String()
	if err := e.checkLiveSignature(); err != nil {
		return res, err
	}
	if res.Problems, err = manifest.Diff(ctx, e.root, live.manifest); err != nil {
		return res, err
	}
	res.Unfixed = res.Problems
	if fix && len(res.Problems) > 0 {
		res.Fixed, res.Unfixed = e.fix(ctx, live, res.Problems)
	}
	if len(res.Unfixed) > 0 {
		return res, ErrModified
	}
	return res, nil
}

// checkLiveSignature checks that the live manifest is signed by a trusted
// key: comparing files with a forged manifest would prove nothing.
func (e *Engine) checkLiveSignature() error {
	data, err := readCapped(e.root, approot.ManifestFile, manifest.MaxSize)
	if err != nil {
		return err
	}
	sig, err := readCapped(e.root, approot.SignatureFile, 64<<10)
	if err != nil {
		return fmt.Errorf("%w: live manifest: %v", exitcode.ErrRejected, err)
	}
	if err := releasepkg.VerifySignature(e.cfg.Pubkeys, data, sig); err != nil {
		return fmt.Errorf("live manifest: %w", err)
	}
	return nil
}

// fix restores each problem's path from the first source holding the
// wanted content, downloading the live release when no local copy has it.
func (e *Engine) fix(ctx context.Context, live release, problems []manifest.Problem) (fixed []string, unfixed []manifest.Problem) {
	staging := approot.StagingDir(live.tag())
	var sources []string
	if _, err := e.root.Lstat(staging); err == nil {
		sources = append(sources, staging)
	}
	kept, _, _ := backup.List(e.root, approot.BackupsDir)
	for _, k := range kept {
		sources = append(sources, path.Join(k.Dir, "files"))
	}
	unfixed = e.fixFrom(ctx, live.manifest, problems, sources, &fixed)
	if len(unfixed) > 0 && (len(sources) == 0 || sources[0] != staging) {
		if err := e.download(ctx, live, staging); err != nil {
			e.log.WithError(err).Warn("could not download the live release to fix files")
			return fixed, unfixed
		}
		defer e.root.RemoveAll(staging)
		unfixed = e.fixFrom(ctx, live.manifest, unfixed, []string{staging}, &fixed)
	}
	return fixed, unfixed
}

func (e *Engine) fixFrom(ctx context.Context, m *manifest.Manifest, problems []manifest.Problem, sources []string, fixed *[]string) (unfixed []manifest.Problem) {
	for _, p := range problems {
		f, _ := m.Lookup(p.Path)
		n := nodeOf(f)
		ok := false
		for _, src := range sources {
			// Copies, not links: a kept backup must stay independent.
			if err := install.Apply(ctx, e.root, []install.Node{n}, install.Options{From: src, Copy: true}); err == nil {
				ok = true
				break
			}
		}
		if ok {
			*fixed = append(*fixed, p.Path)
		} else {
			unfixed = append(unfixed, p)
		}
	}
	return unfixed
}

// download clones and verifies the live release into staging.
func (e *Engine) download(ctx context.Context, live release, staging string) error {
	if err := e.root.RemoveAll(staging); err != nil {
		return err
	}
	if err := e.clone(ctx, live.tag(), staging, nil); err != nil {
		return err
	}
	root, err := e.root.OpenRoot(staging)
	if err != nil {
		return err
	}
	defer root.Close()
	if _, err := releasepkg.VerifyDir(ctx, root, e.cfg.Pubkeys, live.version.String()); err != nil {
		e.root.RemoveAll(staging)
		e.distrustStore()
		return err
	}
	return nil
}
