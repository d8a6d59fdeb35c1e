package fetch

import (
	"bufio"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/hoist-dev/hoist/internal/iobuf"
)

// go-git never asks for a thin pack (it even drops thin-pack from what the
// server advertises), and without one git's upload-pack ignores the objects
// of a shallow client's "have"s (only thin packs use
// --objects-edge-aggressive): a fetch into the object store would download
// the whole release again. thinPackTransport asks for one in the requests
// whose context says so (withThinPack), which fetchRemote does only when
// its storage can resolve deltas against objects outside the pack. Every
// git server since 2006 offers thin packs; the advertisement cannot be
// checked, go-git filters it out first.

type thinPackKey struct{}

func withThinPack(ctx context.Context) context.Context {
	return context.WithValue(ctx, thinPackKey{}, true)
}

type thinPackTransport struct{ transport.Transport }

func (t thinPackTransport) NewUploadPackSession(ep *transport.Endpoint, auth transport.AuthMethod) (transport.UploadPackSession, error) {
	s, err := t.Transport.NewUploadPackSession(ep, auth)
	if err != nil {
		return nil, err
	}
	return thinPackSession{s}, nil
}

type thinPackSession struct{ transport.UploadPackSession }

func (s thinPackSession) UploadPack(ctx context.Context, req *packp.UploadPackRequest) (*packp.UploadPackResponse, error) {
	if want, _ := ctx.Value(thinPackKey{}).(bool); want {
		if err := req.Capabilities.Set(capability.ThinPack); err != nil {
			return nil, err
		}
	}
	return s.UploadPackSession.UploadPack(ctx, req)
}

// thinPackStorage stores a fetched pack as one pack file and its index,
// as it arrives: go-git's pack writer indexes it meanwhile. A thin pack
// holds deltas against objects in the store, which go-git cannot index (it
// knows no object outside the pack); the pack writer then fails, its temp
// file holding the whole pack, and fixThin completes the pack and stores it
// again. Storing a thin pack object by object instead, as compressed loose
// files, cost 1.3x git's time when every file of a release was edited.
type thinPackStorage struct{ *filesystem.Storage }

// keptPack is all that completing a thin pack needs of the store's pack
// plumbing: a pack writer that can keep what it was given when it fails.
// store.go's packWriter is one; it relies on go-git leaving its temp pack
// on disk, which TestGoGitStillNeedsTheThinPackWorkarounds checks.
type keptPack interface {
	io.WriteCloser
	// keep is Close, except that when it fails the pack stays on disk,
	// for reopen, until discard.
	keep() error
	reopen() (billy.File, error)
	discard()
}

func (s thinPackStorage) PackfileWriter() (io.WriteCloser, error) {
	w, err := newPackWriter(s.Storage)
	if err != nil {
		return nil, err
	}
	return thinPackWriter{w, s.Storage}, nil
}

type thinPackWriter struct {
	keptPack
	s *filesystem.Storage
}

func (w thinPackWriter) Close() error {
	err := w.keep()
	if err == nil {
		return nil
	}
	defer w.discard()
	if !errors.Is(err, packfile.ErrReferenceDeltaNotFound) {
		return err
	}
	f, err := w.reopen()
	if err != nil {
		return fmt.Errorf("thin pack: %w", err)
	}
	defer f.Close()
	return fixThin(w.s, f)
}

// fixThin stores the thin pack in f as a complete
// pack, as git's index-pack --fix-thin does: the objects that its
// REF_DELTAs are deltas of, and that it lacks, are read from the store s and
// appended whole; the header's object count and the trailing checksum are
// made anew, and the result streams to the store's pack writer, which
// indexes it. The bases are thus stored twice, as git does too, until
// PruneStore rewrites the store.
func fixThin(s *filesystem.Storage, f billy.File) error {
	p, err := scanPack(f)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("%w: %w", packfile.ErrMalformedPackFile, err)
	}
	if err != nil {
		return fmt.Errorf("thin pack: %w", err)
	}
	// A base neither whole in the pack nor in the store is missing, unless
	// it is a delta of the pack: the pack writer tells.
	var bases, unknown []plumbing.Hash
	for _, h := range p.refs {
		switch {
		case p.whole[h]:
		case hasObject(s, h):
			bases = append(bases, h)
		default:
			unknown = append(unknown, h)
		}
	}
	missing := func(err error) error {
		if len(unknown) == 0 || !errors.Is(err, packfile.ErrReferenceDeltaNotFound) {
			return fmt.Errorf("thin pack: %w", err)
		}
		// The server sent deltas against what the store said it has: the
		// store lacks an object it should hold, so Clone starts it afresh.
		return storeDamaged{fmt.Errorf("thin pack: delta base %s (one of %d) is neither in the pack nor in the object store: %w",
			unknown[0], len(unknown), err)}
	}
	if len(bases) == 0 {
		return missing(packfile.ErrReferenceDeltaNotFound)
	}
	if uint64(p.count)+uint64(len(bases)) > math.MaxUint32 {
		return fmt.Errorf("thin pack: %w: too many objects", packfile.ErrMalformedPackFile)
	}
	w, err := newPackWriter(s)
	if err != nil {
		return err
	}
	sum := sha1.New()
	// Few, large writes: each wakes the pack writer's indexer.
	out := bufio.NewWriterSize(io.MultiWriter(w, sum), 64<<10)
	header := binary.BigEndian.AppendUint32([]byte("PACK\x00\x00\x00\x02"), p.count+uint32(len(bases)))
	out.Write(header) // an error stays in out, for Copy and Flush
	_, err = io.Copy(out, io.NewSectionReader(f, packHeaderSize, p.end-packHeaderSize))
	zw, _ := zlib.NewWriterLevel(nil, baseCompression) // the level is valid
	for _, h := range bases {
		if err != nil {
			break
		}
		err = appendObject(out, zw, s, h)
	}
	if err == nil {
		err = out.Flush()
	}
	if err == nil {
		_, err = w.Write(sum.Sum(nil))
	}
	if err != nil {
		w.Close() // the pack is cut short: go-git fails, nothing stays
		return fmt.Errorf("thin pack: %w", err)
	}
	if err := w.Close(); err != nil {
		return missing(err)
	}
	return nil
}

// hasObject reports whether the store holds h. go-git's HasEncodedObject
// finds no packed object when the store is opened for exclusive access, and
// its EncodedObjectSize leaves a loose object's file open; EncodedObject
// also caches what appendObject reads next.
func hasObject(s *filesystem.Storage, h plumbing.Hash) bool {
	_, err := s.EncodedObject(plumbing.AnyObject, h)
	return err == nil
}

// packHeaderSize is the bytes of "PACK", the version and the object count.
const packHeaderSize = 12

// baseCompression is the zlib level of the bases fixThin appends: these
// are whole files of the release before, compressed on the device, and
// releases are mostly compressed assets.
const baseCompression = zlib.BestSpeed

// packScan is what fixThin needs to know of a pack.
type packScan struct {
	count uint32
	end   int64                  // where the objects end: the checksum follows
	refs  []plumbing.Hash        // the bases of its REF_DELTAs, each once
	whole map[plumbing.Hash]bool // its objects that are not deltas
}

// scanPack reads the pack in r, checksum included. Nothing in it is
// trusted: sizes bound the inflated content, and a count larger than the
// objects fails at the end of the file.
func scanPack(r io.ReadSeeker) (*packScan, error) {
	sc := packfile.NewScanner(r)
	_, count, err := sc.Header()
	if err != nil {
		return nil, err
	}
	p := &packScan{count: count, whole: map[plumbing.Hash]bool{}}
	seen := map[plumbing.Hash]bool{}
	for range count {
		oh, err := sc.NextObjectHeader()
		if err != nil {
			return nil, err
		}
		var hasher *plumbing.Hasher
		var content io.Writer = io.Discard
		switch oh.Type {
		case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
			h := plumbing.NewHasher(oh.Type, oh.Length)
			hasher, content = &h, h
		case plumbing.OFSDeltaObject:
		case plumbing.REFDeltaObject:
			if !seen[oh.Reference] {
				seen[oh.Reference] = true
				p.refs = append(p.refs, oh.Reference)
			}
		default:
			return nil, fmt.Errorf("%w: object of type %d", packfile.ErrMalformedPackFile, oh.Type)
		}
		n, _, err := sc.NextObject(content)
		if err != nil {
			return nil, err
		}
		if n != oh.Length {
			return nil, fmt.Errorf("%w: object at %d shorter than its size", packfile.ErrMalformedPackFile, oh.Offset)
		}
		if hasher != nil {
			p.whole[hasher.Sum()] = true
		}
	}
	if _, err := sc.Checksum(); err != nil {
		return nil, err
	}
	// SeekFromStart returns where the scan stopped: after the checksum.
	size, err := sc.SeekFromStart(0)
	p.end = size - sha1.Size
	return p, err
}

// appendObject writes object h of s to w as a whole pack entry: its type
// and size, then its content through zw.
func appendObject(w io.Writer, zw *zlib.Writer, s *filesystem.Storage, h plumbing.Hash) error {
	obj, err := s.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		return fmt.Errorf("delta base %s: %w", h, err)
	}
	r, err := obj.Reader()
	if err != nil {
		return fmt.Errorf("delta base %s: %w", h, err)
	}
	defer r.Close()
	if _, err := w.Write(entryHeader(obj.Type(), obj.Size())); err != nil {
		return err
	}
	zw.Reset(w)
	n, err := iobuf.Copy(zw, io.LimitReader(r, obj.Size()))
	if err == nil && n < obj.Size() {
		err = io.EOF // stopped short of its size, as io.CopyN says
	}
	if err != nil {
		return fmt.Errorf("delta base %s: %w", h, err)
	}
	return zw.Close()
}

// entryHeader is the header of a pack entry: the type in bits 4-6 and the
// size's low 4 bits, then 7 bits of it a byte; a top bit says another byte
// follows.
func entryHeader(t plumbing.ObjectType, size int64) []byte {
	head := []byte{byte(t)<<4 | byte(size&0x0f)}
	for size >>= 4; size > 0; size >>= 7 {
		head[len(head)-1] |= 0x80
		head = append(head, byte(size&0x7f))
	}
	return head
}
