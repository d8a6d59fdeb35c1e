package release_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/exitcode"
	"github.com/hoist-dev/hoist/internal/release"
)

// signedRelease signs a small tree with a new key and returns the
// manifest, its signature and the key line.
func signedRelease(f *testing.F, name string) (data, sig []byte, pub string) {
	f.Helper()
	dir := filepath.Join(f.TempDir(), "tree")
	if err := os.MkdirAll(filepath.Join(dir, "app"), 0o755); err != nil {
		f.Fatal(err)
	}
	for p, content := range map[string]string{approot.InfoFile: `{"version":"1.1.0","app":"demo"}`, "app/file": name} {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(content), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	prefix := filepath.Join(f.TempDir(), name)
	if err := release.GenerateKey(prefix, ""); err != nil {
		f.Fatal(err)
	}
	if err := release.Sign(context.Background(), dir, release.SignOptions{Keys: []string{prefix + ".key"}}); err != nil {
		f.Fatal(err)
	}
	pub, err := release.ReadPublicKeyFile(prefix + ".pub")
	if err != nil {
		f.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	return read(approot.ManifestFile), read(approot.SignatureFile), pub
}

// FuzzVerifySignature checks on arbitrary manifests and signatures that
// only the signed manifest verifies, with any signature bytes the fuzzer
// finds: nothing else is accepted, nothing panics, and every refusal is
// a rejection (exit 4).
func FuzzVerifySignature(f *testing.F) {
	data, sig, pub := signedRelease(f, "trusted")
	otherData, otherSig, otherPub := signedRelease(f, "other")
	pubkeys := []string{otherPub, pub}
	f.Add(data, sig)
	f.Add(otherData, otherSig)
	f.Add(data, otherSig)
	f.Add(data, append(bytes.Clone(otherSig), sig...))
	f.Add(append(bytes.Clone(data), ' '), sig)
	for _, i := range []int{0, len(sig) / 4, len(sig) / 2, len(sig) - 3} {
		bad := bytes.Clone(sig)
		bad[i] ^= 1
		f.Add(data, bad)
	}
	f.Add(data, sig[:len(sig)/2])
	f.Add(data, []byte{})
	f.Fuzz(func(t *testing.T, d, s []byte) {
		err := release.VerifySignature(pubkeys, d, s)
		if err != nil {
			if !errors.Is(err, exitcode.ErrRejected) {
				t.Fatalf("refusal is not a rejection: %v", err)
			}
			return
		}
		if !bytes.Equal(d, data) && !bytes.Equal(d, otherData) {
			t.Fatalf("a manifest nobody signed verified:\n%q\nsignature %q", d, s)
		}
	})
}
