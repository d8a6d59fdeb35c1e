// Package packguard judges a git pack as it streams past, before anything
// downstream inflates it: a pack whose objects would inflate to more than a
// limit is refused at the header of the object that would cross it.
//
// Nothing in a pack is trusted. Each object header declares the object's
// inflated size; a delta's own first bytes declare the size of the object
// it rebuilds. Writer adds up, per object, the larger of the two, and
// refuses a pack whose sum crosses Limits.Bytes as soon as the declaration
// is read: the inflater behind it (go-git indexes a pack as it arrives)
// never sees the object's data. To find where each object ends, Writer
// inflates the object itself into io.Discard: streaming, a few KiB of
// memory, and no more bytes than the limit allows.
//
// Invariants: a byte reaches the destination only after every object
// header before it, and the declared sizes of the object it belongs to,
// have been judged; Writer holds no more than one Write's bytes.
package packguard

import (
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Limits bounds a pack.
type Limits struct {
	// Bytes bounds the sum, over the pack's objects, of their inflated
	// sizes (for a delta: the larger of its own size and its result's).
	// The raw pack may hold Bytes plus deflate's and the headers' small
	// overhead (see maxRaw).
	Bytes int64
	// Objects bounds the object count the pack's header may claim.
	Objects uint32
}

var (
	// ErrTooLarge means the pack's objects inflate to more than
	// Limits.Bytes, or its header claims more than Limits.Objects.
	ErrTooLarge = errors.New("pack exceeds its limits")
	// ErrMalformed means the stream is not a pack.
	ErrMalformed = errors.New("malformed pack")
)

// Writer passes a pack through to its destination once judged (see the
// package comment). It is not safe for concurrent use.
type Writer struct {
	dst    io.Writer
	chunks chan []byte   // Write → scan: the next bytes of the pack
	judged chan struct{} // scan → Write: every byte sent so far is judged
	done   chan error    // scan → Write, Close: the scan ended, and why
	ended  bool          // done was received
	err    error         // why the pack was refused; sticky
}

// NewWriter returns a Writer that passes the pack to dst. Its Close must
// be called to end the scan.
func NewWriter(dst io.Writer, l Limits) *Writer {
	w := &Writer{dst: dst, chunks: make(chan []byte), judged: make(chan struct{}), done: make(chan error, 1)}
	f := &feed{chunks: w.chunks, judged: w.judged, max: headerSize}
	go func() { w.done <- scan(f, l) }()
	return w
}

// Write judges p, then writes it to the destination; a refused p is not
// written at all.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if !w.ended && len(p) > 0 {
		w.chunks <- p
		select {
		case <-w.judged:
		case err := <-w.done:
			w.ended = true
			if err != nil {
				w.err = err
				return 0, err
			}
		}
	}
	return w.dst.Write(p)
}

// Close ends the scan. It returns why the pack was refused, or an error
// if the pack ended before its last object; it does not close the
// destination.
func (w *Writer) Close() error {
	if !w.ended {
		close(w.chunks)
		w.ended = true
		if err := <-w.done; err != nil && w.err == nil {
			w.err = err
		}
	}
	return w.err
}

// Object types of the pack format.
const (
	typeCommit   = 1
	typeTree     = 2
	typeBlob     = 3
	typeTag      = 4
	typeOFSDelta = 6
	typeREFDelta = 7
)

// headerSize is the bytes of "PACK", the version and the object count.
const headerSize = 12

// maxRaw bounds the raw bytes of a pack of count objects whose content
// inflates to at most limit bytes: deflate adds 5 bytes per stored block
// of up to 64 KiB (1/256 is ample) and zlib 6 per object, and an object's
// header, delta offset or base name take at most 36 bytes more. A pack of
// empty deflate blocks, which inflate to nothing, cannot fill the disk.
func maxRaw(limit int64, count uint32) int64 {
	return headerSize + limit + limit/256 + 64*int64(count) + sha1.Size
}

// scan reads the pack from f up to its last object, and returns nil, or
// why it is refused.
func scan(f *feed, l Limits) error {
	var head [headerSize]byte
	if _, err := io.ReadFull(f, head[:]); err != nil {
		return fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	if string(head[:4]) != "PACK" {
		return fmt.Errorf("%w: no PACK signature", ErrMalformed)
	}
	if v := binary.BigEndian.Uint32(head[4:]); v != 2 && v != 3 {
		return fmt.Errorf("%w: version %d", ErrMalformed, v)
	}
	count := binary.BigEndian.Uint32(head[8:])
	if count > l.Objects {
		return fmt.Errorf("%w: it claims %d objects, more than %d", ErrTooLarge, count, l.Objects)
	}
	f.max = maxRaw(l.Bytes, count)
	s := &scanner{f: f, limit: l.Bytes}
	for range count {
		if err := s.object(); err != nil {
			return err
		}
	}
	return nil
}

// scanner reads a pack's objects, keeping count of what they inflate to.
type scanner struct {
	f          *feed
	zr         io.ReadCloser // reused across objects
	limit, sum int64
}

// object reads the next object: its header, then its deflated data.
func (s *scanner) object() error {
	at := s.f.off
	typ, size, err := s.header()
	if err != nil {
		return fmt.Errorf("%w: object at %d: %w", ErrMalformed, at, err)
	}
	switch typ {
	case typeCommit, typeTree, typeBlob, typeTag:
		if err := s.add(size, at); err != nil {
			return err
		}
	case typeOFSDelta:
		_, err = readVarint(s.f, false)
	case typeREFDelta:
		_, err = io.ReadFull(s.f, make([]byte, sha1.Size))
	default:
		err = fmt.Errorf("type %d", typ)
	}
	if err != nil {
		return fmt.Errorf("%w: object at %d: %w", ErrMalformed, at, err)
	}
	if err := s.openData(); err != nil {
		return fmt.Errorf("%w: object at %d: %w", ErrMalformed, at, err)
	}
	data := &countingReader{r: io.LimitReader(s.zr, size+1)}
	if typ == typeOFSDelta || typ == typeREFDelta {
		// A delta starts with the sizes of its base and of its result.
		br := byteReader{data}
		_, err := readVarint(br, true)
		var result int64
		if err == nil {
			result, err = readVarint(br, true)
		}
		if err != nil {
			return fmt.Errorf("%w: delta at %d: %w", ErrMalformed, at, err)
		}
		if err := s.add(max(size, result), at); err != nil {
			return err
		}
	}
	return s.drain(data, size, at)
}

// add counts n more inflated bytes, refusing the pack when they cross
// the limit.
func (s *scanner) add(n, at int64) error {
	if n > s.limit-s.sum {
		return fmt.Errorf("%w: its objects inflate to more than %d bytes, the one at offset %d to %d alone", ErrTooLarge, s.limit, at, n)
	}
	s.sum += n
	return nil
}

// drain inflates the rest of an object's data into io.Discard and checks
// that it is exactly size bytes and that the deflate stream ends there.
func (s *scanner) drain(data *countingReader, size, at int64) error {
	if _, err := io.Copy(io.Discard, data); err != nil {
		return fmt.Errorf("%w: object at %d: %w", ErrMalformed, at, err)
	}
	if data.n != size {
		return fmt.Errorf("%w: object at %d inflates to %d bytes, not the %d it declares", ErrMalformed, at, data.n, size)
	}
	var one [1]byte
	if n, err := s.zr.Read(one[:]); n != 0 || err != io.EOF {
		// Without its end (and zlib's checksum), the next header
		// cannot be found.
		return fmt.Errorf("%w: object at %d: data longer than declared", ErrMalformed, at)
	}
	return nil
}

// openData starts inflating the data at f, reusing the inflater.
func (s *scanner) openData() error {
	if s.zr == nil {
		zr, err := zlib.NewReader(s.f)
		s.zr = zr
		return err
	}
	return s.zr.(zlib.Resetter).Reset(s.f, nil)
}

// header reads an object header: the type in bits 4-6 of the first byte,
// the size in its low 4 bits then 7 bits a byte, while the top bit is set.
func (s *scanner) header() (typ byte, size int64, err error) {
	b, err := s.f.ReadByte()
	if err != nil {
		return 0, 0, err
	}
	typ = b >> 4 & 7
	size = int64(b & 0x0f)
	for shift := 4; b&0x80 != 0; shift += 7 {
		if shift > 56 {
			return 0, 0, errors.New("size overflows")
		}
		if b, err = s.f.ReadByte(); err != nil {
			return 0, 0, err
		}
		size |= int64(b&0x7f) << shift
	}
	return typ, size, nil
}

// readVarint reads a varint of up to 63 bits: little-endian 7-bit groups
// (a delta's sizes), or, for an OFS_DELTA's offset, big-endian groups each
// continued one adds one to what came before.
func readVarint(r io.ByteReader, littleEndian bool) (int64, error) {
	var v int64
	for i := 0; ; i++ {
		if i == 9 {
			return 0, errors.New("varint overflows")
		}
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		switch {
		case littleEndian:
			v |= int64(b&0x7f) << (7 * i)
		case i > 0:
			v = (v+1)<<7 | int64(b&0x7f)
		default:
			v = int64(b & 0x7f)
		}
		if b&0x80 == 0 {
			return v, nil
		}
	}
}

// byteReader reads single bytes of an io.Reader.
type byteReader struct{ io.Reader }

func (r byteReader) ReadByte() (byte, error) {
	var b [1]byte
	_, err := io.ReadFull(r, b[:])
	return b[0], err
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
