package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"aead.dev/minisign"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/manifest"
	"github.com/hoist-dev/hoist/internal/safefs"
	"github.com/hoist-dev/hoist/internal/tag"
)

// SignOptions say how to sign a release work tree.
type SignOptions struct {
	// Keys are minisign secret key files, at least one. Each signs; the
	// first key's signature comes first in each signature file, so that
	// `minisign -V` with its public key checks the release.
	Keys []string
	// PasswordFile holds the password of the encrypted keys among Keys.
	PasswordFile string
	// App is the app id of the release; empty takes "app" of info.json.
	App string
}

// Sign builds the manifest of the work tree dir and writes it, with one
// minisign signature per key, as dir/hoist-release.json and
// dir/hoist-release.json.minisig. A dir/hoist-keys.json is signed first,
// into dir/hoist-keys.json.minisig, so that the manifest lists both.
func Sign(ctx context.Context, dir string, opts SignOptions) error {
	keys, err := loadPrivateKeys(opts.Keys, opts.PasswordFile)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	info, err := manifest.ReadInfo(root)
	if err != nil {
		return fmt.Errorf("release version: %w", err)
	}
	if _, err := tag.Parse("v" + info.Version); err != nil {
		return fmt.Errorf("%s: version %w", approot.InfoFile, err)
	}
	app, err := signedApp(opts.App, info.App)
	if err != nil {
		return err
	}
	b := binding{App: app, Version: info.Version}
	if err := signKeyChange(root, keys, b); err != nil {
		return err
	}
	m, err := manifest.Build(ctx, dir)
	if err != nil {
		return err
	}
	m.App = b.App
	if err := checkIgnored(dir, m); err != nil {
		return err
	}
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	if err := safefs.WriteFile(root, approot.ManifestFile, data, 0o644); err != nil {
		return err
	}
	return safefs.WriteFile(root, approot.SignatureFile, signAll(keys, data, approot.ManifestFile, b, time.Now()), 0o644)
}

// signedApp is the app id a release is signed for: flagApp, else infoApp;
// both given must agree.
func signedApp(flagApp, infoApp string) (string, error) {
	app := flagApp
	switch {
	case flagApp == "" && infoApp == "":
		return "", fmt.Errorf("no app id: give --app ID or an \"app\" field in %s", approot.InfoFile)
	case flagApp == "":
		app = infoApp
	case infoApp != "" && infoApp != flagApp:
		return "", fmt.Errorf("--app %q differs from the app %q in %s", flagApp, infoApp, approot.InfoFile)
	}
	return app, manifest.ValidApp(app)
}

// signKeyChange checks and signs dir's hoist-keys.json, or removes a stale
// signature of one that is gone.
func signKeyChange(root *os.Root, keys []minisign.PrivateKey, b binding) error {
	data, err := safefs.ReadFile(root, KeysFile, maxKeyFile)
	if errors.Is(err, fs.ErrNotExist) {
		if err := root.Remove(KeysSignatureFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := parseKeyChange(data); err != nil {
		return err
	}
	return safefs.WriteFile(root, KeysSignatureFile, signAll(keys, data, KeysFile, b, time.Now()), 0o644)
}

// loadPrivateKeys loads the key files, refusing none and a key given twice.
func loadPrivateKeys(files []string, passwordFile string) ([]minisign.PrivateKey, error) {
	if len(files) == 0 {
		return nil, errors.New("no signing key given")
	}
	if len(files) > maxSignatures {
		return nil, fmt.Errorf("%d signing keys, at most %d", len(files), maxSignatures)
	}
	keys := make([]minisign.PrivateKey, 0, len(files))
	seen := map[uint64]bool{}
	for _, f := range files {
		key, err := LoadPrivateKey(f, passwordFile)
		if err != nil {
			return nil, err
		}
		if seen[key.ID()] {
			return nil, fmt.Errorf("key %s given twice", keyID(key.ID()))
		}
		seen[key.ID()] = true
		keys = append(keys, key)
	}
	return keys, nil
}

// binding is what a signature's trusted comment binds it to, so that a
// signature vouches for one release of one app.
type binding struct{ App, Version string }

// comment is the trusted comment of a signature of file: minisign's own
// fields, then the binding, tab-separated on one line.
func (b binding) comment(file string, now time.Time) string {
	return fmt.Sprintf("timestamp:%d\tfile:%s\thashed\tapp:%s\tversion:%s", now.Unix(), file, b.App, b.Version)
}

// boundBy reads the binding from a trusted comment; ok is false when the
// comment carries none.
func boundBy(comment string) (b binding, ok bool) {
	var hasApp, hasVersion bool
	for _, field := range strings.Split(comment, "\t") {
		k, v, _ := strings.Cut(field, ":")
		switch k {
		case "app":
			b.App, hasApp = v, true
		case "version":
			b.Version, hasVersion = v, true
		}
	}
	return b, hasApp && hasVersion
}

// signAll returns the signature file of data: one signature per key, in
// order, each four lines as minisign writes them.
func signAll(keys []minisign.PrivateKey, data []byte, file string, b binding, now time.Time) []byte {
	var out []byte
	for _, key := range keys {
		out = append(out, signData(key, data, b.comment(file, now))...)
	}
	return out
}

// signData signs data pre-hashed, as minisign does by default.
func signData(key minisign.PrivateKey, data []byte, trusted string) []byte {
	r := minisign.NewReader(bytes.NewReader(data))
	io.Copy(io.Discard, r) // reading a bytes.Reader cannot fail
	return r.SignWithComments(key, trusted, "signature from minisign secret key "+keyID(key.ID()))
}

// keyID formats a key ID as minisign prints it.
func keyID(id uint64) string { return strings.ToUpper(strconv.FormatUint(id, 16)) }
