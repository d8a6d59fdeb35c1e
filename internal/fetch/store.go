package fetch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// The object store (Options.Store) is a bare, shallow repository holding
// the tags fetched into it. It makes a later fetch incremental: go-git
// offers the stored tags as "have"s, so the server sends only the objects
// the new tag adds, as `git fetch --depth 1` into a clone would.
//
// It is a cache, never the truth: every tree checked out of it is verified
// against its signed manifest by the caller. A store that cannot be read
// (a power cut tore a pack, someone deleted a file) is thrown away and the
// tag downloaded whole; see Clone.

// openStore opens the object store at dir, creating it when missing. The
// caller closes it.
func openStore(dir string) (*filesystem.Storage, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("object store: %w", err)
	}
	fs, ok := osfs.New(dir).(osFS)
	if !ok {
		return nil, errors.New("object store: osfs's filesystem lacks Chmod or Capabilities")
	}
	// Exclusive access lets go-git keep pack indexes and descriptors open
	// across object reads instead of reopening the pack for each one; the
	// caller serialises every use of the store.
	return filesystem.NewStorageWithOptions(&storeFS{osFS: fs}, cache.NewObjectLRUDefault(),
		filesystem.Options{ExclusiveAccess: true, KeepDescriptors: true, LargeObjectThreshold: largeObject}), nil
}

// osFS is osfs's filesystem with what go-git also looks for in one: Chmod
// (it makes packs read-only) and Capabilities.
type osFS interface {
	billy.Filesystem
	billy.Chmod
	billy.Capable
}

// storeFS is the filesystem of a store opened by openStore. While noting,
// it keeps the temp files it makes, and the files opened by their names:
// those of go-git's pack writer (see packWriter).
type storeFS struct {
	osFS
	noting bool
	noted  []billy.File
}

func (fs *storeFS) TempFile(dir, prefix string) (billy.File, error) {
	f, err := fs.osFS.TempFile(dir, prefix)
	if err == nil && fs.noting {
		fs.noted = append(fs.noted, f)
	}
	return f, err
}

func (fs *storeFS) Open(name string) (billy.File, error) {
	f, err := fs.osFS.Open(name)
	if err == nil && fs.noting && len(fs.noted) > 0 && fs.noted[0].Name() == name {
		fs.noted = append(fs.noted, f)
	}
	return f, err
}

// packWriter is the pack writer of a store opened by openStore: go-git's,
// which indexes the pack as it arrives and, on Close, adds pack and index
// to the store. When go-git fails, it leaves its temp pack on disk and two
// descriptors of it open; packWriter closes them. It also refuses a header
// that claims more objects than maxPackObjects.
type packWriter struct {
	io.WriteCloser
	fs *storeFS
	// temp is go-git's temp pack, as it writes it (first) and reads it.
	temp []billy.File
	// head is the pack's header, held back until its count is checked.
	head []byte
	// err is why the header was refused.
	err error
}

// maxPackObjects caps the object count a pack's header may claim: go-git's
// indexer reserves 32 bytes for each before reading any (128 GB for the
// largest count, and the process dies), and a release of a million files
// is no home node's stack.
const maxPackObjects = 1 << 20

func (w *packWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n := 0
	if len(w.head) < packHeaderSize {
		n = min(len(p), packHeaderSize-len(w.head))
		w.head = append(w.head, p[:n]...)
		if len(w.head) < packHeaderSize {
			return n, nil
		}
		// go-git judges the rest of the header.
		if count := binary.BigEndian.Uint32(w.head[8:]); string(w.head[:4]) == "PACK" && count > maxPackObjects {
			w.err = fmt.Errorf("%w: it claims %d objects, more than %d", packfile.ErrMalformedPackFile, count, maxPackObjects)
			return n, w.err
		}
		if _, err := w.WriteCloser.Write(w.head); err != nil {
			return n, err
		}
	}
	m, err := w.WriteCloser.Write(p[n:])
	return n + m, err
}

// newPackWriter returns the pack writer of s, which openStore opened.
func newPackWriter(s *filesystem.Storage) (*packWriter, error) {
	fs, ok := s.Filesystem().(*storeFS)
	if !ok {
		return nil, errors.New("object store not opened by openStore")
	}
	fs.noting = true
	w, err := s.PackfileWriter()
	pw := &packWriter{WriteCloser: w, fs: fs, temp: fs.noted}
	fs.noting, fs.noted = false, nil
	if err == nil && len(pw.temp) == 0 {
		w.Close()
		err = errors.New("go-git's pack writer made no temp file")
	}
	if err != nil {
		pw.discard()
		return nil, fmt.Errorf("object store: %w", err)
	}
	return pw, nil
}

// Close indexes the pack and adds it to the store; when that fails,
// nothing of it stays.
func (w *packWriter) Close() error {
	err := w.keep()
	if err != nil {
		w.discard()
	}
	return err
}

// keep is Close, except that when it fails go-git's temp pack stays on
// disk, for reopen, until discard (see keptPack).
func (w *packWriter) keep() error {
	if len(w.head) < packHeaderSize {
		// Too short to check: go-git finds what is wrong with it.
		w.WriteCloser.Write(w.head)
	}
	err := w.WriteCloser.Close()
	if w.err != nil {
		err = w.err // go-git got nothing: it removed its temp pack
	}
	if err != nil {
		for _, f := range w.temp {
			f.Close() // go-git closed those it got to: ErrClosed
		}
	}
	return err
}

// reopen opens go-git's temp pack, which keep left on disk.
func (w *packWriter) reopen() (billy.File, error) { return w.fs.Open(w.tempName()) }

func (w *packWriter) tempName() string { return w.temp[0].Name() }

// discard closes and removes go-git's temp pack.
func (w *packWriter) discard() {
	for _, f := range w.temp {
		f.Close()
	}
	if len(w.temp) > 0 {
		w.fs.Remove(w.tempName())
	}
}

// peeledRef names the reference to the commit of tag. go-git offers a
// reference as a "have" only when it points at a commit, not at an
// annotated tag, so without it a later fetch would download everything.
func peeledRef(tag plumbing.ReferenceName) plumbing.ReferenceName {
	return plumbing.ReferenceName("refs/peeled/" + tag.Short())
}

// notePeeled stores peeledRef of the fetched tag ref.
func notePeeled(s *filesystem.Storage, ref *plumbing.Reference) error {
	_, commit, err := peel(s, ref.Hash(), nil)
	if err != nil {
		return err
	}
	return s.SetReference(plumbing.NewHashReference(peeledRef(ref.Name()), commit))
}

// readerCache is the object cache of each checkout worker's reader: blobs
// are read once, so it only has to hold the bases of delta chains.
const readerCache = 8 << 20

// openStoreReader opens the store at dir for reading only, with a small
// cache, for one checkout worker.
func openStoreReader(dir string) *filesystem.Storage {
	return filesystem.NewStorageWithOptions(osfs.New(dir), cache.NewObjectLRU(readerCache),
		filesystem.Options{ExclusiveAccess: true, KeepDescriptors: true, LargeObjectThreshold: largeObject})
}

// hasHistory reports whether the store at dir holds any tag, i.e. whether
// a failure to read from it may be the store's fault rather than the
// server's.
func hasHistory(dir string) bool {
	entries, err := os.ReadDir(filepath.Join(dir, "refs", "tags"))
	return err == nil && len(entries) > 0
}

// storeDamaged marks an error reading an object that the store should hold.
type storeDamaged struct{ err error }

func (d storeDamaged) Error() string { return d.err.Error() }
func (d storeDamaged) Unwrap() error { return d.err }
