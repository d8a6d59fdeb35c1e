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

	"github.com/hoist-dev/hoist/internal/iobuf"
)

// maxLink caps a symlink target read from the repository.
const maxLink = 4096

// checkout writes the tree the tag points to into dir: the tree walk makes
// the directories and symlinks, then one worker per CPU writes the files,
// each reading objects through its own reader. Most of a checkout is the
// kernel creating files, which runs in parallel across directories.
func (src *source) checkout(ctx context.Context, dir string) error {
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
	if err := w.tree(ctx, tree, root, "."); err != nil {
		return err
	}
	return src.writeFiles(ctx, w.files)
}

// walk makes the directories and symlinks of a tree and lists its files.
// Names are checked before use, and every entry is created exclusively, so
// a crafted tree (duplicate names, .., .git) fails instead of overwriting
// anything; os.Root keeps every write inside the tree even through
// symlinks the tree itself made. Each directory is opened once and its
// entries are created by their single names: resolving the whole path for
// every file through the root cost one openat per component.
type walk struct {
	s     storer.EncodedObjectStorer
	dirs  []*os.Root // open until the files are written
	files []fileEntry
}

// fileEntry is a file to write: the entry name of dir, path p of the
// checkout.
type fileEntry struct {
	dir     *os.Root
	name, p string
	blob    plumbing.Hash
	perm    os.FileMode
}

func (w *walk) closeDirs() {
	for _, d := range w.dirs {
		d.Close()
	}
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
			w.files = append(w.files, fileEntry{dir, e.Name, ep, e.Hash, 0o644})
		case filemode.Executable:
			w.files = append(w.files, fileEntry{dir, e.Name, ep, e.Hash, 0o755})
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
// as many readers. After the first error no further file starts, and that
// error is returned. A file that would take the files' sizes past
// src.maxBytes is ErrTooLarge before it is read.
func (src *source) writeFiles(ctx context.Context, files []fileEntry) error {
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
