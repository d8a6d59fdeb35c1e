package tarball

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/klauspost/compress/gzip"
	"golang.org/x/sys/unix"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/clip"
	"github.com/hoist-dev/hoist/internal/iobuf"
	"github.com/hoist-dev/hoist/internal/manifest"
	"github.com/hoist-dev/hoist/internal/safefs"
)

// readAhead is what the gzip reader buffers of its input: a large read
// from a pipe or file at a time, not 4 KiB.
const readAhead = 256 << 10

// entryOverhead bounds the inflated bytes an entry may add beyond its
// content: tar header blocks, a PAX record for the longest path and link
// target the manifest allows, padding.
const entryOverhead = 16 << 10

// Extract writes the release in the tar.gz r into dst, which should be
// empty, checking every entry against m (see the package comment). maxBytes
// caps the sum of the file sizes, as max_release_bytes does; the inflated
// stream is capped at that plus a small overhead per entry, so a gzip bomb
// stops at the cap. On error, every file, link and directory Extract made
// is removed again.
func Extract(ctx context.Context, r io.Reader, maxBytes int64, dst *os.Root, m *manifest.Manifest) error {
	top, err := dst.Open(".")
	if err != nil {
		return err
	}
	x := &extraction{dst: dst, m: m, budget: maxBytes, seen: map[string]bool{}, dirs: map[string]bool{}, made: map[string]*os.File{".": top}}
	defer x.closeDirs()
	for _, e := range m.Files {
		for d := path.Dir(e.Path); d != "." && !x.dirs[d]; d = path.Dir(d) {
			x.dirs[d] = true
		}
	}
	err = x.run(ctx, r)
	if err != nil {
		if cerr := x.cleanup(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("remove the partial extraction: %w", cerr))
		}
	}
	return err
}

// extraction is one Extract.
type extraction struct {
	dst    *os.Root
	m      *manifest.Manifest
	budget int64           // file bytes still allowed
	seen   map[string]bool // entries extracted
	dirs   map[string]bool // directories the manifest implies
	// made holds the directories made in dst, and dst itself as ".",
	// open: files are created in them by name, not by a path that os.Root
	// would walk with an openat per component.
	made    map[string]*os.File
	created []string // what was made in dst, in order
}

func (x *extraction) run(ctx context.Context, r io.Reader) error {
	// klauspost's inflate: ~30 % less CPU than compress/gzip's on a
	// release of incompressible files, the bulk of an extraction's own work.
	zr, err := gzip.NewReader(bufio.NewReaderSize(r, readAhead))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	defer zr.Close()
	entries := int64(len(x.m.Files) + len(x.dirs) + 2)
	inflated := &capReader{r: zr, left: x.budget + entries*entryOverhead}
	tr := tar.NewReader(inflated)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return x.readErr(inflated, err)
		}
		if err := x.entry(tr, hdr); err != nil {
			if errors.Is(err, ErrInvalid) || errors.Is(err, ErrTooLarge) {
				return err
			}
			return x.readErr(inflated, fmt.Errorf("%s: %w", clip.String(hdr.Name), err))
		}
	}
	// Read to the gzip trailer, so that its checksum is checked too.
	if _, err := iobuf.Copy(io.Discard, inflated); err != nil {
		return x.readErr(inflated, err)
	}
	return x.complete()
}

// readErr names a capped stream as too large, anything else as invalid.
func (x *extraction) readErr(c *capReader, err error) error {
	if c.left < 0 {
		return ErrTooLarge
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return err // our disk, not the archive
	}
	return fmt.Errorf("%w: %v", ErrInvalid, err)
}

// entry checks and extracts one entry.
func (x *extraction) entry(tr *tar.Reader, hdr *tar.Header) error {
	name := hdr.Name
	if hdr.Typeflag == tar.TypeDir {
		name = strings.TrimSuffix(name, "/")
	}
	if x.seen[name] {
		return invalid(name, "listed twice")
	}
	x.seen[name] = true
	switch name {
	case approot.ManifestFile:
		return x.manifestEntry(tr, hdr)
	case approot.SignatureFile:
		if hdr.Typeflag != tar.TypeReg || hdr.Size > maxSignature {
			return invalid(name, "not a regular file of at most %d bytes", maxSignature)
		}
		return x.writeFile(tr, hdr, name, 0o644, "")
	}
	if hdr.Typeflag == tar.TypeDir {
		if !x.dirs[name] {
			return invalid(name, "a directory the manifest does not imply")
		}
		return x.mkdir(name)
	}
	e, ok := x.m.Lookup(name)
	if !ok {
		return invalid(name, "not listed in the manifest")
	}
	switch {
	case hdr.Typeflag == tar.TypeSymlink && e.IsLink():
		if hdr.Linkname != e.Link {
			return invalid(name, "links to %q, the manifest says %q", clip.String(hdr.Linkname), clip.String(e.Link))
		}
		if err := x.mkParents(name); err != nil {
			return err
		}
		if err := x.dst.Symlink(e.Link, name); err != nil {
			return err
		}
		x.created = append(x.created, name)
		return nil
	case hdr.Typeflag == tar.TypeReg && !e.IsLink():
		if fs.FileMode(hdr.Mode) != e.Perm() {
			return invalid(name, "mode %04o, the manifest says %s", hdr.Mode, e.Mode)
		}
		return x.writeFile(tr, hdr, name, e.Perm(), e.SHA256)
	}
	return invalid(name, "tar type %q, the manifest lists a %s", hdr.Typeflag, kind(e))
}

// manifestEntry checks that the archive's manifest is m, byte for byte,
// and writes it.
func (x *extraction) manifestEntry(tr *tar.Reader, hdr *tar.Header) error {
	want, err := x.m.Marshal()
	if err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeReg || hdr.Size != int64(len(want)) {
		return invalid(hdr.Name, "not the signed manifest")
	}
	got, err := io.ReadAll(io.LimitReader(tr, hdr.Size))
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return invalid(hdr.Name, "not the signed manifest")
	}
	sum := sha256.Sum256(want)
	return x.writeFile(bytes.NewReader(got), hdr, hdr.Name, 0o644, hex.EncodeToString(sum[:]))
}

// writeFile creates name with perm and the entry's content, which must
// hash to want (unless empty) and fit the budget.
func (x *extraction) writeFile(r io.Reader, hdr *tar.Header, name string, perm fs.FileMode, want string) error {
	if hdr.Size > x.budget {
		return ErrTooLarge
	}
	x.budget -= hdr.Size
	if err := x.mkParents(name); err != nil {
		return err
	}
	f, err := safefs.OpenAt(x.made[path.Dir(name)], path.Base(name), unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW)
	if err != nil {
		return err
	}
	x.created = append(x.created, name)
	h := sha256.New()
	_, err = iobuf.Copy(io.MultiWriter(f, h), r)
	if err == nil {
		err = f.Chmod(perm) // not the umask's
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if sum := hex.EncodeToString(h.Sum(nil)); want != "" && sum != want {
		return invalid(name, "sha256 %s, the manifest says %s", sum, want)
	}
	return nil
}

// mkParents makes the directories of name that an archive without
// directory entries did not make; the manifest implies all of them.
func (x *extraction) mkParents(name string) error {
	dir := path.Dir(name)
	if dir == "." {
		return nil
	}
	return x.mkdir(dir)
}

// mkdir makes the directory dir and its parents unless made already.
func (x *extraction) mkdir(dir string) error {
	if x.made[dir] != nil {
		return nil
	}
	if err := x.mkParents(dir); err != nil {
		return err
	}
	if err := x.dst.Mkdir(dir, 0o755); err != nil {
		return err
	}
	x.created = append(x.created, dir)
	if err := x.dst.Chmod(dir, 0o755); err != nil { // not the umask's, as a git checkout
		return err
	}
	d, err := safefs.OpenAt(x.made[path.Dir(dir)], path.Base(dir), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW)
	if err != nil {
		return err
	}
	x.made[dir] = d
	return nil
}

func (x *extraction) closeDirs() {
	for _, d := range x.made {
		d.Close()
	}
}

// complete refuses an archive that lacks an entry of the manifest.
func (x *extraction) complete() error {
	for _, name := range []string{approot.ManifestFile, approot.SignatureFile} {
		if !x.seen[name] {
			return invalid(name, "missing")
		}
	}
	for _, e := range x.m.Files {
		if !x.seen[e.Path] {
			return invalid(e.Path, "listed in the manifest, missing from the archive")
		}
	}
	return nil
}

// cleanup removes what the extraction made, children before parents.
func (x *extraction) cleanup() error {
	var errs []error
	for i := len(x.created) - 1; i >= 0; i-- {
		if err := x.dst.Remove(x.created[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func invalid(name, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, clip.String(name), fmt.Sprintf(format, args...))
}

func kind(e manifest.Entry) string {
	if e.IsLink() {
		return "symlink"
	}
	return "regular file"
}

// capReader reads at most left bytes of r; left goes negative when r has
// more, and the read fails.
type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left == 0 {
		// At the cap: fine if r ends here, too large if it has more.
		var b [1]byte
		n, err := c.r.Read(b[:])
		if n == 0 {
			return 0, err
		}
		c.left = -1
	}
	if c.left < 0 {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
