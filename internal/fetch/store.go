package fetch

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
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
	return newStorage(dir, cache.NewObjectLRUDefault()), nil
}

// newStorage opens the store at dir with the object cache c. Exclusive access
// lets go-git keep pack indexes and descriptors open across object reads
// instead of reopening the pack for each one; the caller serialises every
// use of the store. Packs are added by packWriter (see packwriter.go).
func newStorage(dir string, c cache.Object) *filesystem.Storage {
	return filesystem.NewStorageWithOptions(osfs.New(dir), c,
		filesystem.Options{ExclusiveAccess: true, KeepDescriptors: true, LargeObjectThreshold: largeObject})
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
	return newStorage(dir, cache.NewObjectLRU(readerCache))
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
