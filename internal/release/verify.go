package release

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"aead.dev/minisign"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/clip"
	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/manifest"
	"github.com/hoist-dev/hoist/internal/safefs"
)

// VerifySignature checks that sig is a minisign signature of manifestData by
// one of pubkeys (key lines as in config.json). Every error wraps
// exitcode.ErrRejected.
func VerifySignature(pubkeys []string, manifestData, sig []byte) error {
	var s minisign.Signature
	if err := s.UnmarshalText(sig); err != nil {
		return fmt.Errorf("%w: malformed signature: %v", exitcode.ErrRejected, err)
	}
	for i, line := range pubkeys {
		var key minisign.PublicKey
		if err := key.UnmarshalText([]byte(line)); err != nil {
			return fmt.Errorf("%w: trusted key %d is not a minisign public key: %v", exitcode.ErrRejected, i+1, err)
		}
		if key.ID() != s.KeyID {
			continue
		}
		if !minisign.Verify(key, manifestData, sig) {
			return fmt.Errorf("%w: bad signature by key %s: the manifest or its signature was altered", exitcode.ErrRejected, keyID(key.ID()))
		}
		return nil
	}
	return fmt.Errorf("%w: signed by key %s, which is not a trusted key", exitcode.ErrRejected, keyID(s.KeyID))
}

// VerifyDir verifies the release tree opened as dir: the manifest is signed
// by one of pubkeys, the tree holds exactly what it lists, and info.json's
// version equals the manifest's and wantVersion ("1.1.0" or "v1.1.0"; ""
// skips that check). Every rejection wraps exitcode.ErrRejected; only the
// ctx's own error is returned as is, since a cancelled check proves nothing.
func VerifyDir(ctx context.Context, dir *os.Root, pubkeys []string, wantVersion string) (*manifest.Manifest, error) {
	m, err := verifyDir(ctx, dir, pubkeys, strings.TrimPrefix(wantVersion, "v"))
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil && !errors.Is(err, exitcode.ErrRejected) {
		return nil, fmt.Errorf("%w: %v", exitcode.ErrRejected, err)
	}
	return m, err
}

func verifyDir(ctx context.Context, dir *os.Root, pubkeys []string, wantVersion string) (*manifest.Manifest, error) {
	data, err := readReleaseFile(dir, approot.ManifestFile, manifest.MaxSize)
	if err != nil {
		return nil, err
	}
	sig, err := readReleaseFile(dir, approot.SignatureFile, maxKeyFile)
	if err != nil {
		return nil, err
	}
	if err := VerifySignature(pubkeys, data, sig); err != nil {
		return nil, err
	}
	m, err := manifest.Parse(data)
	if err != nil {
		return nil, err
	}
	if err := manifest.VerifyTree(ctx, dir, m); err != nil {
		return nil, err
	}
	info, err := manifest.InfoVersion(dir)
	if err != nil {
		return nil, err
	}
	if info != m.Version {
		return nil, fmt.Errorf("%s says version %q, the manifest %q", approot.InfoFile, clip.String(info), m.Version)
	}
	if wantVersion != "" && m.Version != wantVersion {
		return nil, fmt.Errorf("release is version %s, not the requested %s", m.Version, clip.String(wantVersion))
	}
	return m, nil
}

// readReleaseFile reads the manifest or signature of a release tree: a
// capped, plain regular file, never a symlink.
func readReleaseFile(dir *os.Root, name string, limit int64) ([]byte, error) {
	data, err := safefs.ReadFile(dir, name, limit)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("release has no %s (not signed with hoist release sign?)", name)
	}
	if err != nil {
		return nil, fmt.Errorf("release %s: %w", name, err)
	}
	return data, nil
}
