package fetch

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"strings"
	"sync/atomic"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"golang.org/x/sync/errgroup"

	"github.com/hoist-dev/hoist/internal/approot"
	"github.com/hoist-dev/hoist/internal/iobuf"
	"github.com/hoist-dev/hoist/internal/manifest"
)

// maxLink caps a symlink target read from the repository.
const maxLink = 4096

// checkout writes the tree the tag points to into dir: the tree walk makes
// the directories and symlinks, then one worker per CPU writes the files,
// each reading objects through its own reader. Most of a checkout is the
// kernel creating files, which runs in parallel across directories. With
// a cache, the files it has are linked from it instead (see Options.Cache).
func (src *source) checkout(ctx context.Context, dir string, cache Cache) error {
	tree, _, err := peel(src.objects, src.ref, nil)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	w := &walk{s: src.objects, dirs: []*os.Root{root}}
	defer w.closeDirs()
	if cache != nil {
		w.cache, w.hashes, w.open = cache, manifestHashes(src.objects, tree), map[*os.Root]*os.File{}
	}
	if err := w.tree(ctx, tree, root, "."); err != nil {
		return err
	}
	return src.writeFiles(ctx, w.files, cache)
}

// manifestHashes maps each regular file the tree's manifest lists to its
// sha256. It is only a hint of where the cache may help: a manifest that
// is missing, too large or invalid gives none, and the caller verifies
// the tree checked out against the signed manifest anyway.
func manifestHashes(s storer.EncodedObjectStorer, tree *object.Tree) map[string]string {
	e, err := tree.FindEntry(approot.ManifestFile)
	if err != nil || (e.Mode != filemode.Regular && e.Mode != filemode.Deprecated) {
		return nil
	}
	blob, r, err := openBlob(s, e.Hash, approot.ManifestFile)
	if err != nil {
		return nil
	}
	defer r.Close()
	if blob.Size > manifest.MaxSize {
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(r, manifest.MaxSize))
	if err != nil {
		return nil
	}
	m, err := manifest.Parse(data)
	if err != nil {
		return nil
	}
	hashes := make(map[string]string, len(m.Files))
	for _, f := range m.Files {
		// info.json is read as a file with no other links (infofile), so
		// that no link can make it alias another file: never link it.
		if !f.IsLink() && f.Path != approot.InfoFile {
			hashes[f.Path] = f.SHA256
		}
	}
	return hashes
}

// walk makes the directories and symlinks of a tree and lists its files.
// Names are checked before use, and every entry is created exclusively, so
// a crafted tree (duplicate names, .., .git) fails instead of overwriting
// anything; os.Root keeps every write inside the tree even through
// symlinks the tree itself made. Each directory is opened once and its
// entries are created by their single names: resolving the whole path for
// every file through the root cost one openat per component.
type walk struct {
	s      storer.EncodedObjectStorer
	dirs   []*os.Root // open until the files are written
	files  []fileEntry
	cache  Cache                 // nil: every file comes from git
	hashes map[string]string     // path → sha256, from the manifest
	open   map[*os.Root]*os.File // directories files are linked into
}

// fileEntry is a file to write: the entry name of dir, path p of the
// checkout; from the cache object cached (and into dirf) if that is set.
type fileEntry struct {
	dir     *os.Root
	dirf    *os.File
	name, p string
	blob    plumbing.Hash
	cached  string
	perm    os.FileMode
}

func (w *walk) closeDirs() {
	for _, d := range w.dirs {
		d.Close()
	}
	for _, d := range w.open {
		d.Close()
	}
}

// file lists the file name of dir (path p) to write, from the cache if it
// has the content the manifest names.
func (w *walk) file(dir *os.Root, name, p string, blob plumbing.Hash, perm os.FileMode) error {
	f := fileEntry{dir: dir, name: name, p: p, blob: blob, perm: perm}
	if sum, ok := w.hashes[p]; ok && w.cache.Has(sum) {
		f.cached = sum
		if f.dirf = w.open[dir]; f.dirf == nil {
			d, err := dir.Open(".")
			if err != nil {
				return err
			}
			w.open[dir], f.dirf = d, d
		}
	}
	w.files = append(w.files, f)
	return nil
}

func (w *walk) tree(ctx context.Context, tree *object.Tree, dir *os.Root, p string) error {
	for _, e := range tree.Entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.Name == "" || e.Name == "." || e.Name == ".." || strings.ContainsRune(e.Name, '/') || strings.EqualFold(e.Name, ".git") {
			return fmt.Errorf("tree entry %q in %s: unsafe name", e.Name, p)
		}
		ep := path.Join(p, e.Name)
		var err error
		switch e.Mode {
		case filemode.Dir:
			err = w.dir(ctx, e.Hash, dir, e.Name, ep)
		case filemode.Regular, filemode.Deprecated:
			err = w.file(dir, e.Name, ep, e.Hash, 0o644)
		case filemode.Executable:
			err = w.file(dir, e.Name, ep, e.Hash, 0o755)
		case filemode.Symlink:
			err = checkoutLink(w.s, e.Hash, dir, e.Name, ep)
		default:
			err = fmt.Errorf("%s: git mode %s (submodule?) is not supported in a release", ep, e.Mode)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *walk) dir(ctx context.Context, h plumbing.Hash, parent *os.Root, name, p string) error {
	tree, err := object.GetTree(w.s, h)
	if err != nil {
		return storeDamaged{fmt.Errorf("%s: %w", p, err)}
	}
	if err := parent.Mkdir(name, 0o755); err != nil {
		return err
	}
	if err := parent.Chmod(name, 0o755); err != nil {
		return err
	}
	dir, err := parent.OpenRoot(name)
	if err != nil {
		return err
	}
	w.dirs = append(w.dirs, dir)
	return w.tree(ctx, tree, dir, p)
}

// writeFiles writes files on one worker per CPU, each file through one of
// as many readers, or links it from cache. After the first error no
// further file starts, and that error is returned. A file that would take
// the files' sizes past src.maxBytes is ErrTooLarge before it is read;
// files linked from the cache take no space and do not count.
func (src *source) writeFiles(ctx context.Context, files []fileEntry, cache Cache) error {
	n := min(runtime.NumCPU(), len(files))
	readers := make(chan storer.EncodedObjectStorer, n)
	for range n {
		s, closeReader, err := src.reader()
		if err != nil {
			return err
		}
		defer closeReader()
		readers <- s
	}
	var left atomic.Int64
	left.Store(src.maxBytes)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(n)
	for _, f := range files {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if f.cached != "" {
				return cache.Link(gctx, f.cached, f.dirf, f.name, f.perm)
			}
			s := <-readers // one is free: no more than n files are written at once
			defer func() { readers <- s }()
			return f.write(s, &left)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// write writes the file, taking its size from left, the bytes the
// release's files may still hold.
func (f fileEntry) write(s storer.EncodedObjectStorer, left *atomic.Int64) error {
	blob, r, err := openBlob(s, f.blob, f.p)
	if err != nil {
		return err
	}
	defer r.Close()
	if left.Add(-blob.Size) < 0 {
		return fmt.Errorf("%w: its files add up to more than the limit at %s (%d bytes)", ErrTooLarge, f.p, blob.Size)
	}
	out, err := f.dir.OpenFile(f.name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.perm)
	if err != nil {
		return err
	}
	if _, err := iobuf.Copy(out, r); err != nil {
		out.Close()
		return fmt.Errorf("write %s: %w", f.p, err)
	}
	if err := out.Chmod(f.perm); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func checkoutLink(s storer.EncodedObjectStorer, h plumbing.Hash, dir *os.Root, name, p string) error {
	blob, r, err := openBlob(s, h, p)
	if err != nil {
		return err
	}
	defer r.Close()
	if blob.Size > maxLink {
		return fmt.Errorf("%s: symlink target longer than %d bytes", p, maxLink)
	}
	target, err := io.ReadAll(io.LimitReader(r, maxLink))
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return dir.Symlink(string(target), name)
}

// openBlob opens the content of the blob at h, the file p. An object that
// cannot be read, or whose content stops short, is a storeDamaged error.
func openBlob(s storer.EncodedObjectStorer, h plumbing.Hash, p string) (*object.Blob, io.ReadCloser, error) {
	blob, err := object.GetBlob(s, h)
	if err != nil {
		return nil, nil, storeDamaged{fmt.Errorf("%s: %w", p, err)}
	}
	r, err := blob.Reader()
	if err != nil {
		return nil, nil, storeDamaged{fmt.Errorf("%s: %w", p, err)}
	}
	return blob, objectReader{r}, nil
}

// objectReader marks read errors of an object as the store's.
type objectReader struct{ io.ReadCloser }

func (r objectReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = storeDamaged{err}
	}
	return n, err
}
