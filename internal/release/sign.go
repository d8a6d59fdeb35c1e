package release

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"aead.dev/minisign"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/manifest"
	"github.com/hoist-dev/hoist/internal/safefs"
)

// Sign builds the manifest of the work tree dir and writes it, with its
// minisign signature by the key in keyFile, as dir/hoist-release.json and
// dir/hoist-release.json.minisig. passwordFile is needed for an encrypted key.
func Sign(ctx context.Context, dir, keyFile, passwordFile string) error {
	key, err := loadPrivateKey(keyFile, passwordFile)
	if err != nil {
		return err
	}
	m, err := manifest.Build(ctx, dir)
	if err != nil {
		return err
	}
	if err := checkIgnored(dir, m); err != nil {
		return err
	}
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	sig := signData(key, data, time.Now())
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := safefs.WriteFile(root, approot.ManifestFile, data, 0o644); err != nil {
		return err
	}
	return safefs.WriteFile(root, approot.SignatureFile, sig, 0o644)
}

// signData signs data pre-hashed, with the comments minisign itself writes.
func signData(key minisign.PrivateKey, data []byte, now time.Time) []byte {
	r := minisign.NewReader(bytes.NewReader(data))
	io.Copy(io.Discard, r) // reading a bytes.Reader cannot fail
	trusted := fmt.Sprintf("timestamp:%d\tfile:%s\thashed", now.Unix(), approot.ManifestFile)
	return r.SignWithComments(key, trusted, "signature from minisign secret key "+keyID(key.ID()))
}

// keyID formats a key ID as minisign prints it.
func keyID(id uint64) string { return strings.ToUpper(strconv.FormatUint(id, 16)) }
