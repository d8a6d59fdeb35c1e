package release

import (
	"bytes"
	"cmp"
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

// maxSignatures caps the signatures of one signature file.
const maxSignatures = 8

// VerifySignature checks that sigFile holds a minisign signature of
// manifestData by one of pubkeys (key lines as in config.json). Every error
// wraps exitcode.ErrRejected.
func VerifySignature(pubkeys []string, manifestData, sigFile []byte) error {
	_, err := trustedComments(pubkeys, manifestData, sigFile)
	return err
}

// trustedComments returns the trusted comments of the signatures in sigFile
// that are valid signatures of data by one of pubkeys; one suffices, so
// that a release signed by an old and a new key verifies on nodes trusting
// either. Without one, it returns why the first signature failed.
func trustedComments(pubkeys []string, data, sigFile []byte) ([]string, error) {
	keys := make(map[uint64]minisign.PublicKey, len(pubkeys))
	for i, line := range pubkeys {
		var key minisign.PublicKey
		if err := key.UnmarshalText([]byte(line)); err != nil {
			return nil, fmt.Errorf("%w: trusted key %d is not a minisign public key: %v", exitcode.ErrRejected, i+1, err)
		}
		keys[key.ID()] = key
	}
	sigs, err := splitSignatures(sigFile)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed signature: %v", exitcode.ErrRejected, err)
	}
	var comments []string
	var first error
	for _, sig := range sigs {
		var s minisign.Signature
		if err := s.UnmarshalText(sig); err != nil {
			first = cmp.Or(first, fmt.Errorf("%w: malformed signature: %v", exitcode.ErrRejected, err))
			continue
		}
		key, ok := keys[s.KeyID]
		switch {
		case !ok:
			first = cmp.Or(first, fmt.Errorf("%w: signed by key %s, which is not a trusted key", exitcode.ErrRejected, keyID(s.KeyID)))
		case !minisign.Verify(key, data, sig):
			first = cmp.Or(first, fmt.Errorf("%w: bad signature by key %s: the manifest or its signature was altered", exitcode.ErrRejected, keyID(s.KeyID)))
		default:
			comments = append(comments, s.TrustedComment)
		}
	}
	if len(comments) == 0 {
		return nil, first
	}
	return comments, nil
}

// splitSignatures cuts a signature file into its minisign signatures, four
// lines each.
func splitSignatures(sigFile []byte) ([][]byte, error) {
	lines := bytes.SplitAfter(sigFile, []byte("\n"))
	if n := len(lines); n > 0 && len(lines[n-1]) == 0 {
		lines = lines[:n-1]
	}
	if len(lines) == 0 || len(lines)%4 != 0 {
		return nil, errors.New("not a whole number of four-line signatures")
	}
	if len(lines)/4 > maxSignatures {
		return nil, fmt.Errorf("more than %d signatures", maxSignatures)
	}
	sigs := make([][]byte, 0, len(lines)/4)
	for i := 0; i < len(lines); i += 4 {
		sigs = append(sigs, bytes.Join(lines[i:i+4], nil))
	}
	return sigs, nil
}

// verifyBound checks that one of the trusted comments binds its signature
// to b: a signature made for another app or version (by a careless or
// hand-made `minisign -S -t`) does not vouch for this release.
func verifyBound(comments []string, file string, b binding) error {
	for _, c := range comments {
		if got, ok := boundBy(c); ok && got == b {
			return nil
		}
	}
	got, ok := boundBy(comments[0])
	if !ok {
		return fmt.Errorf("%w: the signature of %s names no app and version (signed by an older hoist? sign it again)", exitcode.ErrRejected, file)
	}
	return fmt.Errorf("%w: the signature of %s is for app %q version %q, but %s says app %q version %q",
		exitcode.ErrRejected, file, clip.String(got.App), clip.String(got.Version), approot.ManifestFile, b.App, b.Version)
}

// VerifyDir verifies the release tree opened as dir: the manifest names an
// app and is signed by one of pubkeys for that app and version, the tree holds exactly what it lists, and info.json's
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
	comments, err := trustedComments(pubkeys, data, sig)
	if err != nil {
		return nil, err
	}
	m, err := manifest.Parse(data)
	if err != nil {
		return nil, err
	}
	if m.App == "" {
		return nil, fmt.Errorf("%s names no app (signed by an older hoist? sign it again with --app)", approot.ManifestFile)
	}
	if err := verifyBound(comments, approot.ManifestFile, binding{App: m.App, Version: m.Version}); err != nil {
		return nil, err
	}
	if err := manifest.VerifyTree(ctx, dir, m); err != nil {
		return nil, err
	}
	info, err := manifest.ReadInfo(dir)
	if err != nil {
		return nil, err
	}
	if info.Version != m.Version {
		return nil, fmt.Errorf("%s says version %q, the manifest %q", approot.InfoFile, clip.String(info.Version), m.Version)
	}
	if info.App != "" && info.App != m.App {
		return nil, fmt.Errorf("%s says app %q, the manifest %q", approot.InfoFile, clip.String(info.App), m.App)
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
