package tufkey

import (
	"bytes"
	"testing"

	"aead.dev/minisign"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// TestSignerMatchesPublic signs TUF metadata with a minisign secret key and
// verifies it with the TUF key made from the minisign public key line.
func TestSignerMatchesPublic(t *testing.T) {
	pub, priv, err := minisign.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := Signer(priv)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ParsePublic(pub.String())
	if err != nil {
		t.Fatal(err)
	}
	id, err := key.ID()
	if err != nil {
		t.Fatal(err)
	}
	root := metadata.Root()
	for _, role := range []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		if err := root.Signed.AddKey(key, role); err != nil {
			t.Fatal(err)
		}
	}
	sig, err := root.Sign(signer)
	if err != nil {
		t.Fatal(err)
	}
	if sig.KeyID != id {
		t.Fatalf("signature key ID %s, want %s", sig.KeyID, id)
	}
	if err := root.VerifyDelegate(metadata.ROOT, root); err != nil {
		t.Fatalf("root signed with the minisign key does not verify: %v", err)
	}

	// The same bytes signed by another minisign key do not verify.
	_, other, _ := minisign.GenerateKey(nil)
	otherSigner, err := Signer(other)
	if err != nil {
		t.Fatal(err)
	}
	root.ClearSignatures()
	if _, err := root.Sign(otherSigner); err != nil {
		t.Fatal(err)
	}
	if err := root.VerifyDelegate(metadata.ROOT, root); err == nil {
		t.Fatal("root signed by a foreign key verified")
	}
}

// TestParsePublicRejects refuses what is not a minisign public key.
func TestParsePublicRejects(t *testing.T) {
	for _, line := range []string{"", "not base64!", "RWQ" + string(bytes.Repeat([]byte("A"), 10))} {
		if _, err := ParsePublic(line); err == nil {
			t.Errorf("ParsePublic(%q) succeeded", line)
		}
	}
}
