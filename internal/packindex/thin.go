package packindex

import (
	"bufio"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/hoist-dev/hoist/internal/iobuf"
)

// packHeaderSize is the bytes of "PACK", the version and the object count.
const packHeaderSize = 12

// baseCompression is the zlib level of the bases appended to a thin pack:
// whole files of the release before, compressed on the device, and
// releases are mostly compressed assets.
const baseCompression = zlib.BestSpeed

// appendBases completes a thin pack as git's index-pack --fix-thin does:
// the bases in hs that Options.Bases finds are appended whole, and the
// header's object count and the trailing checksum made anew. A base it
// does not find may be a delta of the pack whose own base is missing; any
// delta left unresolved fails Index.
func (ix *indexer) appendBases(hs []plumbing.Hash) error {
	if ix.o.Bases == nil {
		return fmt.Errorf("%w: %s (one of %d), and no other objects to take it from", ErrBaseMissing, hs[0], len(hs))
	}
	if uint64(len(ix.objs))+uint64(len(hs)) > math.MaxUint32 {
		return fmt.Errorf("%w: too many objects", ErrMalformed)
	}
	if err := ix.f.Truncate(ix.end); err != nil {
		return fmt.Errorf("thin pack: %w", err)
	}
	pos := &countingWriter{w: io.NewOffsetWriter(ix.f, ix.end), n: ix.end}
	w := bufio.NewWriterSize(pos, bufSize)
	zw, _ := zlib.NewWriterLevel(nil, baseCompression) // the level is valid
	for _, h := range hs {
		obj, err := ix.o.Bases.EncodedObject(plumbing.AnyObject, h)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("delta base %s: %w", h, err)
		}
		off := pos.n + int64(w.Buffered())
		crc := crc32.NewIEEE()
		if err := appendObject(io.MultiWriter(w, crc), zw, obj); err != nil {
			return fmt.Errorf("delta base %s: %w", h, err)
		}
		ix.objs = append(ix.objs, object{off: off, size: obj.Size(), crc: crc.Sum32(), typ: obj.Type(), hash: h, done: true})
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("thin pack: %w", err)
	}
	ix.end = pos.n
	count := binary.BigEndian.AppendUint32(nil, uint32(len(ix.objs)))
	if _, err := ix.f.WriteAt(count, packHeaderSize-4); err != nil {
		return fmt.Errorf("thin pack: %w", err)
	}
	sum := sha1.New()
	if _, err := iobuf.Copy(sum, io.NewSectionReader(ix.f, 0, ix.end)); err != nil {
		return fmt.Errorf("thin pack: %w", err)
	}
	copy(ix.sum[:], sum.Sum(nil))
	if _, err := ix.f.WriteAt(ix.sum[:], ix.end); err != nil {
		return fmt.Errorf("thin pack: %w", err)
	}
	return nil
}

// appendObject writes obj to w as a whole pack entry: its type and size,
// then its content through zw. The content must hash to obj's hash: a
// damaged store must not make the pack lie.
func appendObject(w io.Writer, zw *zlib.Writer, obj plumbing.EncodedObject) error {
	r, err := obj.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	if _, err := w.Write(EntryHeader(obj.Type(), obj.Size())); err != nil {
		return err
	}
	zw.Reset(w)
	hasher := plumbing.NewHasher(obj.Type(), obj.Size())
	n, err := iobuf.Copy(io.MultiWriter(zw, hasher), io.LimitReader(r, obj.Size()))
	if err == nil && n < obj.Size() {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return err
	}
	if got := hasher.Sum(); got != obj.Hash() {
		return fmt.Errorf("its content hashes to %s", got)
	}
	return zw.Close()
}

// EntryHeader is the header of a pack entry: the type in bits 4-6 and the
// size's low 4 bits, then 7 bits of it a byte; a top bit says another byte
// follows.
func EntryHeader(t plumbing.ObjectType, size int64) []byte {
	head := []byte{byte(t)<<4 | byte(size&0x0f)}
	for size >>= 4; size > 0; size >>= 7 {
		head[len(head)-1] |= 0x80
		head = append(head, byte(size&0x7f))
	}
	return head
}

// countingWriter counts the bytes written through it, from n on.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
