package release

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"aead.dev/minisign"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/clip"
	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/manifest"
)

// A release may carry a key change: hoist-keys.json, listed in the
// manifest like any file and signed on its own by the release's keys.
const (
	KeysFile          = "hoist-keys.json"
	KeysSignatureFile = "hoist-keys.json.minisig"
)

// maxKeyChange caps the keys a key change names.
const maxKeyChange = 32

// KeyChange is the content of hoist-keys.json: public key lines (as in
// config.json's "pubkeys") to trust from now on, and to trust no more.
type KeyChange struct {
	Add    []string `json:"add"`
	Revoke []string `json:"revoke"`
}

func parseKeyChange(data []byte) (KeyChange, error) {
	var c KeyChange
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("%s: %w", KeysFile, err)
	}
	if dec.More() {
		return c, fmt.Errorf("%s: data after the object", KeysFile)
	}
	if len(c.Add)+len(c.Revoke) > maxKeyChange {
		return c, fmt.Errorf("%s names more than %d keys", KeysFile, maxKeyChange)
	}
	for _, line := range slices.Concat(c.Add, c.Revoke) {
		if _, err := parseKey(line); err != nil {
			return c, fmt.Errorf("%s: %w", KeysFile, err)
		}
	}
	return c, nil
}

func parseKey(line string) (minisign.PublicKey, error) {
	var key minisign.PublicKey
	if err := key.UnmarshalText([]byte(line)); err != nil {
		return key, fmt.Errorf("%q is not a minisign public key: %v", clip.String(line), err)
	}
	return key, nil
}

// apply returns pubkeys without the revoked keys and with the added ones
// not already there, keys compared by ID.
func (c KeyChange) apply(pubkeys []string) ([]string, error) {
	revoked := map[uint64]bool{}
	for _, line := range c.Revoke {
		key, _ := parseKey(line) // parseKeyChange checked it
		revoked[key.ID()] = true
	}
	var next []string
	have := map[uint64]bool{}
	for _, line := range slices.Concat(pubkeys, c.Add) {
		key, err := parseKey(line)
		if err != nil {
			return nil, err
		}
		if !revoked[key.ID()] && !have[key.ID()] {
			have[key.ID()] = true
			next = append(next, line)
		}
	}
	return next, nil
}

// Files are the bytes of a release that decide whom a node trusts once
// the release is installed. Keys and KeysSig are nil when the release
// carries no key change.
type Files struct {
	Manifest, ManifestSig []byte
	Keys, KeysSig         []byte
}

// Trust is what a node pins and trusts once a release is installed.
type Trust struct {
	App     string   // the release's app; "" for a manifest without one
	Pubkeys []string // the trusted keys
}

// Adopt returns the trust of a node that trusts pubkeys once the release
// of f is installed. A key change must be signed by one of pubkeys for the
// release's app and version, must leave a trusted key, and must keep the
// release trusted: it needs a signature by a key trusted after the change,
// so that `hoist verify` still checks it. A revoked key that signed the
// release is fine when the release is signed by a kept or added key too.
// Every error wraps exitcode.ErrRejected.
func Adopt(pubkeys []string, f Files) (Trust, error) {
	if err := VerifySignature(pubkeys, f.Manifest, f.ManifestSig); err != nil {
		return Trust{}, err
	}
	m, err := manifest.Parse(f.Manifest)
	if err != nil {
		return Trust{}, fmt.Errorf("%w: %v", exitcode.ErrRejected, err)
	}
	t := Trust{App: m.App, Pubkeys: pubkeys}
	e, ok := m.Lookup(KeysFile)
	if !ok {
		return t, nil
	}
	if sum := sha256.Sum256(f.Keys); e.IsLink() || hex.EncodeToString(sum[:]) != e.SHA256 {
		return Trust{}, fmt.Errorf("%w: %s differs from the manifest", exitcode.ErrRejected, KeysFile)
	}
	change, err := parseKeyChange(f.Keys)
	if err != nil {
		return Trust{}, fmt.Errorf("%w: %v", exitcode.ErrRejected, err)
	}
	next, err := change.apply(pubkeys)
	if err != nil {
		return Trust{}, fmt.Errorf("%w: trusted keys: %v", exitcode.ErrRejected, err)
	}
	if slices.Equal(next, pubkeys) {
		return t, nil // nothing to change, or already adopted
	}
	if err := verifyKeyChange(pubkeys, m, f); err != nil {
		return Trust{}, err
	}
	if len(next) == 0 {
		return Trust{}, fmt.Errorf("%w: %s revokes every trusted key", exitcode.ErrRejected, KeysFile)
	}
	if err := VerifySignature(next, f.Manifest, f.ManifestSig); err != nil {
		return Trust{}, fmt.Errorf("%w: after its key change no trusted key would have signed this release: sign it with a kept or added key too", exitcode.ErrRejected)
	}
	t.Pubkeys = next
	return t, nil
}

// verifyKeyChange checks the key change's own signature: by a key trusted
// now, for the release's app and version.
func verifyKeyChange(pubkeys []string, m *manifest.Manifest, f Files) error {
	if f.KeysSig == nil {
		return fmt.Errorf("%w: %s is not signed (no %s)", exitcode.ErrRejected, KeysFile, KeysSignatureFile)
	}
	comments, err := trustedComments(pubkeys, f.Keys, f.KeysSig)
	if err != nil {
		return fmt.Errorf("%s: %w", KeysFile, err)
	}
	if m.App == "" {
		return fmt.Errorf("%w: a key change needs a release with an app in %s", exitcode.ErrRejected, approot.ManifestFile)
	}
	return verifyBound(comments, KeysFile, binding{App: m.App, Version: m.Version})
}

// ReadFiles reads the Files of a release tree with read, which returns
// at most limit bytes of a file and an error matching fs.ErrNotExist for a
// missing one. A missing key change or key change signature is nil.
func ReadFiles(read func(name string, limit int64) ([]byte, error)) (Files, error) {
	var f Files
	for _, r := range []struct {
		name     string
		limit    int64
		dst      *[]byte
		optional bool
	}{
		{approot.ManifestFile, manifest.MaxSize, &f.Manifest, false},
		{approot.SignatureFile, maxKeyFile, &f.ManifestSig, false},
		{KeysFile, maxKeyFile, &f.Keys, true},
		{KeysSignatureFile, maxKeyFile, &f.KeysSig, true},
	} {
		data, err := read(r.name, r.limit)
		if r.optional && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Files{}, fmt.Errorf("read %s: %w", r.name, err)
		}
		*r.dst = data
	}
	return f, nil
}
