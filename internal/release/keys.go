// Package release signs and verifies hoist releases (CONTRACT §4): minisign
// keys, the signed manifest of a work tree, and the verification of a fetched
// release tree before anything of it is trusted.
//
// Keys and signatures use minisign's own file formats, so keys made by
// `minisign -G` sign with hoist and `minisign -V` checks hoist's signatures.
// hoist signs pre-hashed (BLAKE2b, "ED"), as minisign does by default, and
// accepts both pre-hashed and legacy signatures.
//
// Verification goes signature first: the manifest bytes are parsed only after
// a trusted key has signed them, then the tree is compared with the manifest.
//
// Binding: the manifest names its app, and each signature's trusted comment
// (covered by minisign's global signature) is
//
//	timestamp:T<TAB>file:NAME<TAB>hashed<TAB>app:ID<TAB>version:X.Y.Z
//
// A release verifies only with a valid signature by a trusted key whose
// comment names the manifest's app and version.
//
// Several keys: a signature file holds one or more minisign signatures, four
// lines each, one per signing key in the order given; any valid one by a
// trusted key suffices, and `minisign -V` checks the first.
//
// Rotation: a release may carry hoist-keys.json, {"add":[KEY...],"revoke":[KEY...]}
// with KEY a public key line, signed like the manifest into
// hoist-keys.json.minisig. Adopt says what a node trusts once such a
// release is installed.
package release

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"aead.dev/minisign"
)

// maxKeyFile caps key, password and signature files read.
const maxKeyFile = 64 << 10

// GenerateKey writes a new key pair: PREFIX.key (mode 0600, encrypted with
// password unless it is empty) and PREFIX.pub. It never overwrites a file.
func GenerateKey(prefix, password string) error {
	pub, priv, err := minisign.GenerateKey(nil)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	var keyText []byte
	if password == "" {
		keyText, err = priv.MarshalText()
	} else {
		keyText, err = minisign.EncryptKey(password, priv)
	}
	if err != nil {
		return fmt.Errorf("encode secret key: %w", err)
	}
	pubText, err := pub.MarshalText()
	if err != nil {
		return fmt.Errorf("encode public key: %w", err)
	}
	keyFile, pubFile := prefix+".key", prefix+".pub"
	for _, f := range []string{keyFile, pubFile} {
		if _, err := os.Lstat(f); err == nil {
			return fmt.Errorf("%s already exists", f)
		}
	}
	if err := writeNew(keyFile, append(keyText, '\n'), 0o600); err != nil {
		return err
	}
	if err := writeNew(pubFile, append(pubText, '\n'), 0o644); err != nil {
		os.Remove(keyFile)
		return err
	}
	return nil
}

// writeNew creates name with exactly mode perm (whatever the umask) and
// fails if it exists.
func writeNew(name string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		os.Remove(name)
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(name)
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// ReadPublicKeyFile returns the key line of a minisign public key file, the
// form stored in config.json's "pubkeys".
func ReadPublicKeyFile(path string) (string, error) {
	data, err := readCapped(path)
	if err != nil {
		return "", err
	}
	var key minisign.PublicKey
	if err := key.UnmarshalText(data); err != nil {
		return "", fmt.Errorf("%s: not a minisign public key: %w", path, err)
	}
	return key.String(), nil
}

// LoadPrivateKey reads a minisign secret key file, decrypting it with the
// password in passwordFile when it is encrypted.
func LoadPrivateKey(keyFile, passwordFile string) (minisign.PrivateKey, error) {
	data, err := readCapped(keyFile)
	if err != nil {
		return minisign.PrivateKey{}, err
	}
	if !minisign.IsEncrypted(data) {
		var key minisign.PrivateKey
		if err := key.UnmarshalText(data); err != nil {
			return minisign.PrivateKey{}, fmt.Errorf("%s: not a minisign secret key: %w", keyFile, err)
		}
		return key, nil
	}
	if passwordFile == "" {
		return minisign.PrivateKey{}, fmt.Errorf("%s is encrypted: give its password with --password-file", keyFile)
	}
	password, err := ReadPasswordFile(passwordFile)
	if err != nil {
		return minisign.PrivateKey{}, err
	}
	key, err := minisign.DecryptKey(password, data)
	if err != nil {
		return minisign.PrivateKey{}, fmt.Errorf("%s: wrong password or damaged key: %w", keyFile, err)
	}
	return key, nil
}

// ReadPasswordFile returns the password in path: its first line, without the
// line end.
func ReadPasswordFile(path string) (string, error) {
	data, err := readCapped(path)
	if err != nil {
		return "", err
	}
	password, _, _ := strings.Cut(string(data), "\n")
	password = strings.TrimSuffix(password, "\r")
	if password == "" {
		return "", fmt.Errorf("password file %s is empty", path)
	}
	return password, nil
}

var errTooLarge = errors.New("file too large")

func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%s: %w (limit %d bytes)", path, errTooLarge, maxKeyFile)
	}
	return data, nil
}
