package fetch

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/hoist-dev/hoist/internal/packindex"
	"github.com/hoist-dev/hoist/internal/safefs"
)

// packStorage is a store opened by openStore whose fetched packs a
// packWriter writes (through guardedStorage's PackfileWriter). go-git's
// own pack writer indexes with its packfile.Parser, which holds every
// object whole in memory: a 300 MiB file of a release cost 300 MiB. ctx
// bounds the indexing, which go-git's interface cannot pass.
type packStorage struct {
	*filesystem.Storage
	ctx context.Context
}

// packWriter stores a pack in the store as one pack file and its index:
// the pack streams to a temp file in objects/pack; Close indexes it
// (package packindex, which completes a thin pack with the objects of the
// store its deltas need, as git's index-pack --fix-thin does) and renames
// pack and index into place, index last, each flushed first. It refuses a
// header that claims more than maxPackObjects. When anything fails,
// nothing of the pack stays.
type packWriter struct {
	ctx  context.Context
	s    *filesystem.Storage
	dir  string // the store's objects/pack
	f    *os.File
	buf  *bufio.Writer
	head []byte // the pack's first bytes, until its header is checked
	err  error  // sticky: why a Write failed
}

// maxPackObjects caps the object count a pack's header may claim: a
// release of a million files is no home node's stack, and the indexer
// keeps a record of each object.
const maxPackObjects = 1 << 20

// packHeaderSize is the bytes of "PACK", the version and the object count.
const packHeaderSize = 12

// newPackWriter returns a writer of a new pack of the store s, which
// openStore opened.
func newPackWriter(ctx context.Context, s *filesystem.Storage) (*packWriter, error) {
	dir := filepath.Join(s.Filesystem().Root(), "objects", "pack")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("object store: %w", err)
	}
	// A writer cut off by a crash left its temp files; the caller
	// serialises every use of the store, so none is in use.
	stale, _ := filepath.Glob(filepath.Join(dir, "tmp_*")) // the pattern is valid
	for _, name := range stale {
		os.Remove(name)
	}
	f, err := os.CreateTemp(dir, "tmp_pack_")
	if err != nil {
		return nil, fmt.Errorf("object store: %w", err)
	}
	return &packWriter{ctx: ctx, s: s, dir: dir, f: f, buf: bufio.NewWriterSize(f, 64<<10)}, nil
}

func (w *packWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if n := len(w.head); n < packHeaderSize {
		w.head = append(w.head, p[:min(len(p), packHeaderSize-n)]...)
		if w.err = checkHeader(w.head); w.err != nil {
			return 0, w.err
		}
	}
	n, err := w.buf.Write(p)
	if err != nil {
		w.err = fmt.Errorf("object store: %w", err)
	}
	return n, w.err
}

// checkHeader refuses a pack header that claims too many objects; the
// indexer judges the rest.
func checkHeader(head []byte) error {
	if len(head) < packHeaderSize || string(head[:4]) != "PACK" {
		return nil
	}
	if count := binary.BigEndian.Uint32(head[8:]); count > maxPackObjects {
		return fmt.Errorf("%w: it claims %d objects, more than %d", packfile.ErrMalformedPackFile, count, maxPackObjects)
	}
	return nil
}

// Close indexes the pack and adds it to the store; when that fails,
// nothing of it stays.
func (w *packWriter) Close() error {
	err := w.store()
	w.f.Close()
	if err != nil {
		os.Remove(w.f.Name())
	}
	return err
}

func (w *packWriter) store() error {
	if w.err != nil {
		return w.err
	}
	if err := w.buf.Flush(); err != nil {
		return fmt.Errorf("object store: %w", err)
	}
	idx, err := packindex.Index(w.ctx, w.f, packindex.Options{Bases: w.s, TempDir: w.dir})
	if errors.Is(err, packindex.ErrBaseMissing) {
		// The server sent deltas against objects the store said it has:
		// unless it has no history (Clone knows), the store lacks one.
		return storeDamaged{fmt.Errorf("thin pack: %w", err)}
	}
	if err != nil {
		return fmt.Errorf("index pack: %w", err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("object store: %w", err)
	}
	sum := plumbing.Hash(idx.PackfileChecksum)
	name := filepath.Join(w.dir, "pack-"+sum.String())
	idxTemp, err := writeIndex(w.dir, idx)
	if err != nil {
		return fmt.Errorf("object store: %w", err)
	}
	if err := os.Rename(w.f.Name(), name+".pack"); err != nil {
		os.Remove(idxTemp)
		return fmt.Errorf("object store: %w", err)
	}
	if err := os.Rename(idxTemp, name+".idx"); err != nil {
		os.Remove(idxTemp)
		os.Remove(name + ".pack")
		return fmt.Errorf("object store: %w", err)
	}
	if err := syncDir(w.dir); err != nil {
		return fmt.Errorf("object store: %w", err)
	}
	return refreshPacks(w.s, sum, name+".pack")
}

// writeIndex writes idx to a temp file in dir, flushed, and returns its
// name.
func writeIndex(dir string, idx *idxfile.MemoryIndex) (string, error) {
	f, err := os.CreateTemp(dir, "tmp_idx_")
	if err != nil {
		return "", err
	}
	buf := bufio.NewWriter(f)
	_, err = idxfile.NewEncoder(buf).Encode(idx)
	if err == nil {
		err = buf.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

func syncDir(dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return safefs.SyncDir(root, ".")
}

// refreshPacks makes s see the pack h, added at path behind its back. With
// exclusive access, go-git caches the list of packs; only its pack writer
// and DeleteOldObjectPackAndIndex clear it. The latter deletes nothing
// when given the pack's own time: it keeps packs not older than that.
func refreshPacks(s *filesystem.Storage, h plumbing.Hash, path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("object store: %w", err)
	}
	if err := s.DeleteOldObjectPackAndIndex(h, info.ModTime()); err != nil {
		return fmt.Errorf("object store: %w", err)
	}
	s.Reindex()
	return nil
}
