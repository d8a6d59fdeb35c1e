// Package tufkey makes a minisign key a TUF ed25519 key, so that the one
// key a maintainer already keeps for `hoist release sign` also signs the
// TUF metadata of a static release repository, and so that a node's
// pinned minisign public key can be matched with the keys of a TUF root.
//
// A minisign key is an Ed25519 key with an 8-byte key ID in front; the
// conversion reads the raw key out of minisign's documented text formats.
package tufkey

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"

	"aead.dev/minisign"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Byte offsets in minisign's encodings (minisign's README, "Key format"):
// a public key is "Ed" + key ID + key; an unencrypted secret key holds the
// Ed25519 secret key (seed and public key) at privateOffset.
const (
	publicOffset  = 2 + 8
	publicSize    = publicOffset + ed25519.PublicKeySize
	privateOffset = 2 + 2 + 2 + 32 + 8 + 8 + 8
	privateSize   = 158
)

// Public returns the TUF key of a minisign public key.
func Public(pub minisign.PublicKey) (*metadata.Key, error) {
	raw, err := base64.StdEncoding.DecodeString(pub.String())
	if err != nil || len(raw) != publicSize {
		return nil, fmt.Errorf("minisign public key %X: unexpected encoding", pub.ID())
	}
	return metadata.KeyFromPublicKey(ed25519.PublicKey(raw[publicOffset:]))
}

// ParsePublic returns the TUF key of a minisign public key line, the form
// config.json's "pubkeys" keeps.
func ParsePublic(line string) (*metadata.Key, error) {
	var pub minisign.PublicKey
	if err := pub.UnmarshalText([]byte(line)); err != nil {
		return nil, fmt.Errorf("not a minisign public key: %w", err)
	}
	return Public(pub)
}

// ID returns the TUF key ID of a minisign public key line.
func ID(line string) (string, error) {
	key, err := ParsePublic(line)
	if err != nil {
		return "", err
	}
	return key.ID()
}

// Signer returns a TUF metadata signer for a minisign secret key.
func Signer(priv minisign.PrivateKey) (signature.Signer, error) {
	text, err := priv.MarshalText()
	if err != nil {
		return nil, fmt.Errorf("minisign secret key %X: %w", priv.ID(), err)
	}
	raw, err := base64.StdEncoding.DecodeString(string(text[len(secretComment):]))
	if err != nil || len(raw) != privateSize {
		return nil, fmt.Errorf("minisign secret key %X: unexpected encoding", priv.ID())
	}
	key := ed25519.PrivateKey(raw[privateOffset : privateOffset+ed25519.PrivateKeySize])
	return signature.LoadED25519Signer(key)
}

// secretComment is the first line of minisign's secret key text.
const secretComment = "untrusted comment: minisign encrypted secret key\n"
