// Package manifest is the format of hoist-release.json (CONTRACT §4) and the
// comparison of a directory tree with it. It knows nothing of signatures.
//
// Invariants of a parsed or built *Manifest:
//   - Files is sorted by Path (byte order) with no duplicates, and lists
//     info.json as a regular file;
//   - every Path is relative, clean, slash-separated, free of "." and ".."
//     components and of any ".git" component, and is not the manifest or its
//     signature;
//   - no entry lies below another entry (a file or symlink is never a
//     directory too), so installing one never writes through a symlink;
//   - a regular file has a lowercase sha256 and mode 0644 or 0755 (the only
//     modes git records); a symlink has only a target, and that target,
//     resolved lexically from the link's directory and through the other
//     symlinks of the manifest, never leaves the tree.
//
// Trees are only ever read with Lstat/Readlink through an *os.Root, so a
// symlink in the tree is compared, never followed.
package manifest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/clip"
	"github.com/hoist-dev/hoist/internal/tag"
)

// MaxSize caps the bytes of a manifest that are read.
const MaxSize = 16 << 20

var (
	// ErrInvalid marks a manifest that breaks the format or its invariants.
	ErrInvalid = errors.New("invalid manifest")
	// ErrMismatch marks a tree that differs from its manifest.
	ErrMismatch = errors.New("tree does not match manifest")
)

// Entry is one file of a release: a regular file (SHA256 and Mode) or a
// symlink (Link).
type Entry struct {
	Path   string `json:"path"`             // slash-separated, relative, clean
	SHA256 string `json:"sha256,omitempty"` // lowercase hex, regular files
	Mode   string `json:"mode,omitempty"`   // "0644" or "0755", regular files
	Link   string `json:"link,omitempty"`   // symlink target, symlinks only
}

// IsLink reports whether e is a symlink.
func (e Entry) IsLink() bool { return e.Link != "" }

// Perm returns the permission bits of a regular file (0 for a symlink).
func (e Entry) Perm() fs.FileMode {
	switch e.Mode {
	case modeExec:
		return 0o755
	case modePlain:
		return 0o644
	}
	return 0
}

const (
	modePlain = "0644"
	modeExec  = "0755"
	maxPath   = 4096
	maxName   = 255
)

// modeOf is the manifest mode of a file with permission bits perm: git keeps
// only the executable bit, so that is all a release can carry.
func modeOf(perm fs.FileMode) string {
	if perm&0o111 != 0 {
		return modeExec
	}
	return modePlain
}

// Manifest is the content of hoist-release.json.
type Manifest struct {
	// App names the app the release is of (see ValidApp). Empty only in a
	// manifest signed before hoist bound releases to an app: such a
	// manifest still parses (a live root may hold one), but release
	// verification refuses it.
	App     string  `json:"app,omitempty"`
	Version string  `json:"version"`
	Files   []Entry `json:"files"`
}

// Parse decodes and validates a manifest. Anything unexpected (unknown or
// repeated keys, trailing data, a broken invariant) is an error wrapping
// ErrInvalid.
func Parse(data []byte) (*Manifest, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalid, MaxSize)
	}
	if err := checkKeys(data); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Marshal returns the canonical encoding of m, one entry per line, ending in
// a newline. The same manifest always gives the same bytes; these are the
// bytes that are signed.
func (m *Manifest) Marshal() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	v, err := json.Marshal(m.Version)
	if err != nil {
		return nil, err
	}
	b.WriteByte('{')
	if m.App != "" {
		fmt.Fprintf(&b, "\"app\":%q,", m.App) // ValidApp: nothing to escape
	}
	fmt.Fprintf(&b, "\"version\":%s,\"files\":[\n", v)
	for i, e := range m.Files {
		line, err := json.Marshal(e)
		if err != nil {
			return nil, err
		}
		b.WriteString("  ")
		b.Write(line)
		if i < len(m.Files)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]}\n")
	return b.Bytes(), nil
}

// Lookup returns the entry for path.
func (m *Manifest) Lookup(p string) (Entry, bool) {
	i, ok := m.index(p)
	if !ok {
		return Entry{}, false
	}
	return m.Files[i], true
}

// index finds p by binary search; Files is sorted.
func (m *Manifest) index(p string) (int, bool) {
	lo, hi := 0, len(m.Files)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if m.Files[mid].Path < p {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, lo < len(m.Files) && m.Files[lo].Path == p
}

func (m *Manifest) validate() error {
	if m.App != "" {
		if err := ValidApp(m.App); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	if _, err := tag.Parse("v" + m.Version); err != nil {
		return fmt.Errorf("%w: version %q is not X.Y.Z", ErrInvalid, clip.String(m.Version))
	}
	for i, e := range m.Files {
		if i > 0 && m.Files[i-1].Path >= e.Path {
			return fmt.Errorf("%w: %q: files not sorted by path or listed twice", ErrInvalid, clip.String(e.Path))
		}
		if err := e.validate(); err != nil {
			return fmt.Errorf("%w: %q: %v", ErrInvalid, clip.String(e.Path), err)
		}
	}
	if e, ok := m.Lookup(approot.InfoFile); !ok || e.IsLink() {
		return fmt.Errorf("%w: %s is not listed as a regular file", ErrInvalid, approot.InfoFile)
	}
	for _, e := range m.Files {
		if err := m.checkParents(e.Path); err != nil {
			return fmt.Errorf("%w: %q: %v", ErrInvalid, clip.String(e.Path), err)
		}
		if e.IsLink() {
			if err := m.checkLink(e); err != nil {
				return fmt.Errorf("%w: %q: %v", ErrInvalid, clip.String(e.Path), err)
			}
		}
	}
	return nil
}

func (e Entry) validate() error {
	if err := validPath(e.Path); err != nil {
		return err
	}
	if e.Path == approot.ManifestFile || e.Path == approot.SignatureFile {
		return errors.New("the manifest cannot list itself or its signature")
	}
	if e.IsLink() {
		if e.SHA256 != "" || e.Mode != "" {
			return errors.New("a symlink has no sha256 or mode")
		}
		return validTarget(e.Link)
	}
	if len(e.SHA256) != 64 || strings.ToLower(e.SHA256) != e.SHA256 {
		return errors.New("sha256 is not 64 lowercase hex digits")
	}
	if _, err := hex.DecodeString(e.SHA256); err != nil {
		return errors.New("sha256 is not 64 lowercase hex digits")
	}
	if e.Mode != modePlain && e.Mode != modeExec {
		return fmt.Errorf("mode %q is not %s or %s", clip.String(e.Mode), modePlain, modeExec)
	}
	return nil
}

// validPath accepts a relative, clean, slash-separated path that names
// something inside the tree and outside .git.
func validPath(p string) error {
	if p == "" || len(p) > maxPath {
		return errors.New("empty or too long path")
	}
	if path.IsAbs(p) || path.Clean(p) != p {
		return errors.New("path is not relative and clean")
	}
	for _, name := range strings.Split(p, "/") {
		if err := validName(name); err != nil {
			return err
		}
	}
	return nil
}

func validName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return errors.New("path has an empty, . or .. component")
	case len(name) > maxName:
		return errors.New("path component too long")
	case strings.EqualFold(name, ".git"):
		return errors.New("path inside .git")
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return errors.New("path has control characters")
	}
	return nil
}

func validTarget(t string) error {
	switch {
	case len(t) > maxPath:
		return errors.New("link target too long")
	case path.IsAbs(t):
		return errors.New("absolute link target")
	case strings.ContainsFunc(t, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return errors.New("link target has control characters")
	}
	return nil
}

// checkParents refuses an entry below another entry: the other would have to
// be a directory, and writing below a symlink would write through it.
func (m *Manifest) checkParents(p string) error {
	for dir := path.Dir(p); dir != "."; dir = path.Dir(dir) {
		if _, ok := m.Lookup(dir); ok {
			return fmt.Errorf("lies below the file or symlink %q", clip.String(dir))
		}
	}
	return nil
}
