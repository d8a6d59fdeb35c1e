// Package packindex indexes a git pack file on disk, as `git index-pack
// --fix-thin` does, without holding a whole object in memory: go-git's
// parser reads every object whole to hash it, so one large blob costs its
// size in memory.
//
// A whole object is hashed by streaming its inflated content through the
// hasher. A delta is resolved by streaming its instructions against its
// base, which is held in memory only when small (memBase) and while the
// bases held add up to little (memBudget), else in an unlinked temp file.
// Deltas are resolved from each whole object down its delta tree, as git
// does, so each base is rebuilt once; a chain deeper than maxDepth is
// refused.
//
// Nothing in a pack is trusted: sizes are declared, not believed (content
// longer or shorter than declared is an error), and a malformed pack gives
// an error, never a panic. The caller bounds the declared sizes first (the
// bytes a delta may rebuild are its declared result size): the indexer
// writes no more to temp files than the pack's objects declare.
package packindex

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
)

var (
	// ErrMalformed means the file is not a valid pack. It is go-git's, so
	// that callers test for one error whichever read the pack.
	ErrMalformed = packfile.ErrMalformedPackFile
	// ErrBaseMissing means a delta's base is neither in the pack nor
	// found by Options.Bases (go-git's error for it).
	ErrBaseMissing = packfile.ErrReferenceDeltaNotFound
	// ErrChainTooDeep means a delta chain is longer than maxDepth.
	ErrChainTooDeep = errors.New("delta chain too deep")
)

// maxDepth bounds delta chains: each level holds its base open. git's
// pack-objects refuses a --depth above 4095.
const maxDepth = 4095

// Options says where the indexer finds what the pack lacks.
type Options struct {
	// Bases, if set, holds the objects that a thin pack's REF_DELTAs
	// name and that it lacks (a store of earlier fetches): each is
	// appended to the pack whole. Without it, a thin pack is refused.
	Bases Objects
	// TempDir is where bases too large for memory are spilled (os.TempDir
	// when empty).
	TempDir string
}

// Objects finds objects by hash (go-git's storers do), answering
// plumbing.ErrObjectNotFound for one it lacks.
type Objects interface {
	EncodedObject(plumbing.ObjectType, plumbing.Hash) (plumbing.EncodedObject, error)
}

// object is what the indexer knows of one object of the pack.
type object struct {
	off   int64
	size  int64 // declared inflated size: of the delta, for a delta
	crc   uint32
	delta bool
	ref   plumbing.Hash // REF_DELTA: the hash of its base
	typ   plumbing.ObjectType
	hash  plumbing.Hash
	done  bool // typ and hash are known
}

type indexer struct {
	ctx     context.Context
	f       *os.File
	o       Options
	objs    []object
	ofsKids map[int64][]int         // base offset → deltas of it
	refKids map[plumbing.Hash][]int // base hash → deltas of it
	reader  *packfile.Scanner       // reads objects by offset
	in      *bufio.Reader           // buffers the object reader reads (see open)
	out     *bufio.Writer           // buffers what a delta rebuilds (see patch)
	end     int64                   // where the objects end and the checksum starts
	sum     plumbing.Hash           // the pack's checksum
	memHeld int64                   // bytes of bases held in memory
}

// Index indexes the pack in f, which must be open for reading and, for a
// thin pack, writing: the bases that Options.Bases returns are appended to
// it, and its object count and checksum rewritten. The index's
// PackfileChecksum is the pack's (final) checksum, which names it.
func Index(ctx context.Context, f *os.File, o Options) (*idxfile.MemoryIndex, error) {
	ix := &indexer{ctx: ctx, f: f, o: o, ofsKids: map[int64][]int{}, refKids: map[plumbing.Hash][]int{},
		reader: packfile.NewScanner(f), in: bufio.NewReaderSize(nil, bufSize), out: bufio.NewWriterSize(nil, bufSize)}
	if err := ix.scan(); err != nil {
		return nil, malformed(err)
	}
	if err := ix.resolve(0); err != nil {
		return nil, malformed(err)
	}
	if missing := ix.missingBases(); len(missing) > 0 {
		first := len(ix.objs)
		if err := ix.appendBases(missing); err != nil {
			return nil, err
		}
		if err := ix.resolve(first); err != nil {
			return nil, malformed(err)
		}
	}
	unresolved := 0
	for _, ob := range ix.objs {
		if !ob.done {
			unresolved++
		}
	}
	if unresolved > 0 {
		return nil, fmt.Errorf("%w: %d deltas of objects neither in the pack nor given", ErrBaseMissing, unresolved)
	}
	var w idxfile.Writer
	w.OnHeader(uint32(len(ix.objs)))
	for _, ob := range ix.objs {
		w.Add(ob.hash, uint64(ob.off), ob.crc)
	}
	if err := w.OnFooter(ix.sum); err != nil {
		return nil, err
	}
	return w.Index()
}

// malformed marks an error of reading the pack as ErrMalformed unless the
// file system or ctx failed, or it is marked already. (go-git's scanner
// reports bad zlib data without wrapping an error.)
func malformed(err error) error {
	var fsErr *fs.PathError
	switch {
	case err == nil, errors.As(err, &fsErr), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, ErrMalformed), errors.Is(err, ErrBaseMissing), errors.Is(err, ErrChainTooDeep):
		return err
	}
	return fmt.Errorf("%w: %w", ErrMalformed, err)
}

// scan reads the pack once, in order, checksum included: it notes every
// object and hashes the whole ones.
func (ix *indexer) scan() error {
	if _, err := ix.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	sc := packfile.NewScanner(ix.f)
	_, count, err := sc.Header()
	if err != nil {
		return err
	}
	ix.objs = make([]object, 0, min(count, 1<<16)) // the count is not trusted
	for range count {
		if err := ix.ctx.Err(); err != nil {
			return err
		}
		oh, err := sc.NextObjectHeader()
		if err != nil {
			return err
		}
		ob := object{off: oh.Offset, size: oh.Length}
		var content io.Writer = io.Discard
		var hasher plumbing.Hasher
		switch oh.Type {
		case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
			ob.typ, ob.done = oh.Type, true
			hasher = plumbing.NewHasher(oh.Type, oh.Length)
			content = hasher
		case plumbing.OFSDeltaObject:
			ob.delta = true
			ix.ofsKids[oh.OffsetReference] = append(ix.ofsKids[oh.OffsetReference], len(ix.objs))
		case plumbing.REFDeltaObject:
			ob.delta, ob.ref = true, oh.Reference
			ix.refKids[ob.ref] = append(ix.refKids[ob.ref], len(ix.objs))
		default:
			return fmt.Errorf("%w: object of type %d at %d", packfile.ErrMalformedPackFile, oh.Type, oh.Offset)
		}
		n, crc, err := sc.NextObject(content)
		if err != nil {
			return fmt.Errorf("object at %d: %w", oh.Offset, err)
		}
		if n != oh.Length {
			return fmt.Errorf("%w: object at %d shorter than its size", packfile.ErrMalformedPackFile, oh.Offset)
		}
		ob.crc = crc
		if ob.done {
			ob.hash = hasher.Sum()
		}
		ix.objs = append(ix.objs, ob)
	}
	if ix.sum, err = sc.Checksum(); err != nil {
		return err
	}
	// SeekFromStart returns where the scan stopped: after the checksum.
	end, err := sc.SeekFromStart(0)
	if err != nil {
		return err
	}
	st, err := ix.f.Stat()
	if err != nil {
		return err
	}
	if st.Size() != end {
		return fmt.Errorf("%w: %d bytes after the checksum", packfile.ErrMalformedPackFile, st.Size()-end)
	}
	ix.end = end - int64(len(ix.sum))
	return nil
}

// resolve resolves the deltas of the whole objects from objs[from:] on,
// down their delta trees.
func (ix *indexer) resolve(from int) error {
	for i := from; i < len(ix.objs); i++ {
		if ix.objs[i].delta || len(ix.kids(i)) == 0 {
			continue
		}
		base, err := ix.inflate(i)
		if err != nil {
			return err
		}
		err = ix.resolveKids(i, base, 1)
		base.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// kids returns the unresolved deltas of the resolved object i.
func (ix *indexer) kids(i int) []int {
	var kids []int
	for _, ks := range [][]int{ix.ofsKids[ix.objs[i].off], ix.refKids[ix.objs[i].hash]} {
		for _, k := range ks {
			if !ix.objs[k].done {
				kids = append(kids, k)
			}
		}
	}
	return kids
}

// resolveKids resolves the deltas of object i, whose content is base, and
// theirs; depth is the length of the deltas' chains.
func (ix *indexer) resolveKids(i int, base *buffer, depth int) error {
	for _, k := range ix.kids(i) {
		if err := ix.ctx.Err(); err != nil {
			return err
		}
		if depth > maxDepth {
			return fmt.Errorf("%w: the delta at %d is the %dth of its chain", ErrChainTooDeep, ix.objs[k].off, depth)
		}
		// Its own OFS_DELTAs are known now, its REF_DELTAs once it is
		// hashed: then it is rebuilt once more, to keep.
		content, err := ix.patch(k, ix.objs[i].typ, base, len(ix.ofsKids[ix.objs[k].off]) > 0)
		if err == nil && content == nil && len(ix.kids(k)) > 0 {
			content, err = ix.patch(k, ix.objs[i].typ, base, true)
		}
		if err != nil {
			return err
		}
		if content != nil {
			err = ix.resolveKids(k, content, depth+1)
			content.Close()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// missingBases returns the bases, each once, of the unresolved REF_DELTAs
// that are no object of the pack.
func (ix *indexer) missingBases() []plumbing.Hash {
	have := map[plumbing.Hash]bool{}
	for _, ob := range ix.objs {
		if ob.done {
			have[ob.hash] = true
		}
	}
	var missing []plumbing.Hash
	for _, ob := range ix.objs {
		if !ob.done && !ob.ref.IsZero() && !have[ob.ref] {
			have[ob.ref] = true
			missing = append(missing, ob.ref)
		}
	}
	return missing
}
