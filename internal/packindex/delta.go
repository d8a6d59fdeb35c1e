package packindex

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"

	"github.com/hoist-dev/hoist/internal/iobuf"
)

const (
	// memBase is the largest base held in memory; larger ones go to a
	// temp file.
	memBase = 8 << 20
	// memBudget bounds the bytes of all the bases held in memory at once
	// (one per level of the chain being resolved).
	memBudget = 32 << 20
	// bufSize is the buffer of each stream the indexer reads or writes.
	bufSize = 64 << 10
)

// buffer holds the content of a base while its deltas are resolved: in
// memory, or in an unlinked temp file. Writes beyond its declared size
// fail, so a lying pack cannot grow it.
type buffer struct {
	ix   *indexer
	mem  []byte
	file *os.File
	max  int64 // declared size
	n    int64 // bytes written
}

func (ix *indexer) newBuffer(size int64) (*buffer, error) {
	b := &buffer{ix: ix, max: size}
	if size <= memBase && ix.memHeld+size <= memBudget {
		b.mem = make([]byte, 0, size)
		ix.memHeld += size
		return b, nil
	}
	f, err := os.CreateTemp(ix.o.TempDir, "packindex-base-")
	if err != nil {
		return nil, fmt.Errorf("delta base: %w", err)
	}
	// Unlinked, it goes when closed, even if the process dies.
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("delta base: %w", err)
	}
	b.file = f
	return b, nil
}

func (b *buffer) Write(p []byte) (int, error) {
	if int64(len(p)) > b.max-b.n {
		return 0, fmt.Errorf("%w: object larger than its size", packfile.ErrMalformedPackFile)
	}
	if b.file != nil {
		n, err := b.file.Write(p)
		b.n += int64(n)
		return n, err
	}
	b.mem = append(b.mem, p...)
	b.n += int64(len(p))
	return len(p), nil
}

func (b *buffer) ReadAt(p []byte, off int64) (int, error) {
	if b.file != nil {
		return b.file.ReadAt(p, off)
	}
	if off >= int64(len(b.mem)) {
		return 0, io.EOF
	}
	n := copy(p, b.mem[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Close frees the buffer.
func (b *buffer) Close() {
	if b.file != nil {
		b.file.Close()
		return
	}
	b.ix.memHeld -= b.max
	b.mem = nil
}

// open returns a reader of the inflated data of the object at off: a
// delta's instructions, or a whole object's content. The reader is bounded
// by the declared size. It is ix.in, valid until the next open: the one
// scanner reads one object at a time anyway.
func (ix *indexer) open(off int64) (*bufio.Reader, io.Closer, error) {
	if _, err := ix.reader.SeekObjectHeader(off); err != nil {
		return nil, nil, fmt.Errorf("object at %d: %w", off, err)
	}
	r, err := ix.reader.ReadObject()
	if err != nil {
		return nil, nil, fmt.Errorf("object at %d: %w", off, err)
	}
	ix.in.Reset(r)
	return ix.in, r, nil
}

// inflate returns the content of the whole object i.
func (ix *indexer) inflate(i int) (*buffer, error) {
	ob := &ix.objs[i]
	r, c, err := ix.open(ob.off)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	b, err := ix.newBuffer(ob.size)
	if err != nil {
		return nil, err
	}
	n, err := iobuf.Copy(b, r)
	if err == nil && n != ob.size {
		err = fmt.Errorf("%w: object at %d shorter than its size", packfile.ErrMalformedPackFile, ob.off)
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("object at %d: %w", ob.off, err)
	}
	return b, nil
}

// patch resolves delta k against base, of type typ: it hashes the result
// and, if keep, returns it (else nil).
func (ix *indexer) patch(k int, typ plumbing.ObjectType, base *buffer, keep bool) (*buffer, error) {
	ob := &ix.objs[k]
	delta, c, err := ix.open(ob.off)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	srcSize, err := deltaSize(delta)
	if err != nil {
		return nil, fmt.Errorf("delta at %d: %w", ob.off, err)
	}
	size, err := deltaSize(delta)
	if err != nil {
		return nil, fmt.Errorf("delta at %d: %w", ob.off, err)
	}
	if srcSize != base.n {
		return nil, fmt.Errorf("%w: delta at %d is of a base of %d bytes, not %d", packfile.ErrMalformedPackFile, ob.off, srcSize, base.n)
	}
	hasher := plumbing.NewHasher(typ, size)
	var out io.Writer = hasher
	var result *buffer
	if keep {
		if result, err = ix.newBuffer(size); err != nil {
			return nil, err
		}
		out = io.MultiWriter(hasher, result)
	}
	w := ix.out // patch returns before its deltas are patched: one writer serves all
	w.Reset(out)
	err = apply(w, base, delta, size)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		if result != nil {
			result.Close()
		}
		return nil, fmt.Errorf("delta at %d: %w", ob.off, err)
	}
	ob.typ, ob.hash, ob.done = typ, hasher.Sum(), true
	return result, nil
}

// deltaSize reads a size of a delta's header: 7 bits a byte, least
// significant first; a top bit says another byte follows.
func deltaSize(r io.ByteReader) (int64, error) {
	var n int64
	for shift := 0; shift < 63; shift += 7 {
		b, err := r.ReadByte()
		if err != nil {
			return 0, noEOF(err)
		}
		n |= int64(b&0x7f) << shift
		if b&0x80 == 0 {
			return n, nil
		}
	}
	return 0, fmt.Errorf("%w: delta size too large", packfile.ErrMalformedPackFile)
}

// apply writes to w the object of size bytes that the instructions in
// delta rebuild from base. An instruction either copies a range of base
// (its first byte's top bit set; bits 0-3 say which bytes of the offset
// follow, bits 4-6 which of the length, and a length of 0 means 0x10000)
// or inserts the next 1 to 127 bytes of delta.
func apply(w io.Writer, base *buffer, delta *bufio.Reader, size int64) error {
	var written int64
	for {
		cmd, err := delta.ReadByte()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		var n int64
		switch {
		case cmd&0x80 != 0:
			var off int64
			if off, err = deltaField(delta, cmd, 4); err != nil {
				return err
			}
			if n, err = deltaField(delta, cmd>>4, 3); err != nil {
				return err
			}
			if n == 0 {
				n = 0x10000
			}
			if off+n > base.n || written+n > size {
				return fmt.Errorf("%w: delta copies beyond its base or result", packfile.ErrMalformedPackFile)
			}
			if _, err := io.Copy(w, io.NewSectionReader(base, off, n)); err != nil {
				return err
			}
		case cmd != 0:
			n = int64(cmd)
			if written+n > size {
				return fmt.Errorf("%w: delta inserts beyond its result", packfile.ErrMalformedPackFile)
			}
			if _, err := io.CopyN(w, delta, n); err != nil {
				return noEOF(err)
			}
		default:
			return fmt.Errorf("%w: delta instruction 0", packfile.ErrMalformedPackFile)
		}
		written += n
	}
	if written != size {
		return fmt.Errorf("%w: delta rebuilds %d bytes, not %d", packfile.ErrMalformedPackFile, written, size)
	}
	return nil
}

// deltaField reads the little-endian field of a copy instruction whose
// bytes present are the low bits of mask, of count bytes at most.
func deltaField(r io.ByteReader, mask byte, count int) (int64, error) {
	var v int64
	for i := range count {
		if mask&(1<<i) == 0 {
			continue
		}
		b, err := r.ReadByte()
		if err != nil {
			return 0, noEOF(err)
		}
		v |= int64(b) << (8 * i)
	}
	return v, nil
}

// noEOF makes an EOF inside a delta an unexpected one.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
