// Package tarball writes a signed release tree as one tar.gz (for
// `hoist release publish --tarball`, an asset of a GitHub or Gitea
// release) and extracts one, trusting nothing in the archive that the
// signed manifest does not say.
//
// An archive holds hoist-release.json, its signature, then every entry of
// the manifest in the manifest's order, each directory just before its
// first entry. Write is deterministic: the same tree gives the same bytes
// (no times, owners or gzip name), so republishing does not change the
// asset's hash.
//
// Extract checks each entry against the manifest as it goes: the path must
// be listed (or be a directory of a listed path), a file's mode and sha256
// (hashed while writing) and a symlink's target must be the manifest's, the
// manifest entry must be the manifest's canonical bytes; devices, fifos,
// hard links, duplicates and missing entries are refused, and the inflated
// size is capped before it is written. On error nothing it wrote is left.
// It does not fsync: the caller flushes the staged tree once (syncfs).
package tarball

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"syscall"
	"time"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/iobuf"
	"github.com/hoist-dev/hoist/internal/manifest"
)

var (
	// ErrInvalid marks an archive that is not the release its manifest
	// describes.
	ErrInvalid = errors.New("release archive does not match its signed manifest")
	// ErrTooLarge marks an archive whose content exceeds the size cap.
	ErrTooLarge = errors.New("release archive exceeds the size limit")
)

// maxSignature caps the signature entry (a few minisign signatures).
const maxSignature = 64 << 10

// epoch is every entry's modification time: times are not part of a
// release, and a fixed one keeps the archive deterministic.
var epoch = time.Unix(0, 0)

// Write writes the release tree src, as m lists it, with its manifest and
// signature, to w as a tar.gz. It refuses a file whose content is not the
// one m names.
func Write(ctx context.Context, w io.Writer, src *os.Root, m *manifest.Manifest) error {
	zw, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	if err := writeEntries(ctx, tw, src, m); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

func writeEntries(ctx context.Context, tw *tar.Writer, src *os.Root, m *manifest.Manifest) error {
	for _, name := range []string{approot.ManifestFile, approot.SignatureFile} {
		if err := writeFile(tw, src, name, 0o644, ""); err != nil {
			return err
		}
	}
	dirs := map[string]bool{}
	for _, e := range m.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := writeDirs(tw, dirs, path.Dir(e.Path))
		if err != nil {
			return err
		}
		if e.IsLink() {
			err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: e.Path, Linkname: e.Link, Mode: 0o777, ModTime: epoch})
		} else {
			err = writeFile(tw, src, e.Path, int64(e.Perm()), e.SHA256)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", e.Path, err)
		}
	}
	return nil
}

// writeDirs writes the entries of dir and its parents not written yet.
func writeDirs(tw *tar.Writer, done map[string]bool, dir string) error {
	if dir == "." || done[dir] {
		return nil
	}
	if err := writeDirs(tw, done, path.Dir(dir)); err != nil {
		return err
	}
	done[dir] = true
	return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: epoch})
}

// writeFile writes the regular file name of src with mode perm, checking
// its sha256 against want unless want is empty.
func writeFile(tw *tar.Writer, src *os.Root, name string, perm int64, want string) error {
	f, err := src.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", name)
	}
	err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: fi.Size(), Mode: perm, ModTime: epoch})
	if err != nil {
		return err
	}
	h := sha256.New()
	// The tar writer refuses more than Size bytes and Close refuses fewer,
	// so a file that changes length while it is read is an error too.
	if _, err := iobuf.Copy(io.MultiWriter(tw, h), f); err != nil {
		return err
	}
	if sum := hex.EncodeToString(h.Sum(nil)); want != "" && sum != want {
		return fmt.Errorf("%s: sha256 %s, the manifest says %s", name, sum, want)
	}
	return nil
}
