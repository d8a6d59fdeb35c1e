package packguard

import (
	"fmt"
	"io"
)

// feed reads what Write sends, one chunk at a time. Asking for the next
// chunk tells Write that the scan has judged the one before. It is an
// io.ByteReader, so that zlib reads no byte past an object's end.
type feed struct {
	chunks  <-chan []byte
	judged  chan<- struct{}
	buf     []byte
	started bool
	off     int64 // bytes read
	max     int64 // bytes the pack may have
}

func (f *feed) fill() error {
	if f.off >= f.max {
		return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, f.max)
	}
	for len(f.buf) == 0 {
		if f.started {
			f.judged <- struct{}{}
		}
		f.started = true
		p, ok := <-f.chunks
		if !ok {
			return io.ErrUnexpectedEOF
		}
		f.buf = p
	}
	return nil
}

func (f *feed) Read(p []byte) (int, error) {
	if err := f.fill(); err != nil {
		return 0, err
	}
	n := copy(p[:min(int64(len(p)), f.max-f.off)], f.buf)
	f.buf = f.buf[n:]
	f.off += int64(n)
	return n, nil
}

func (f *feed) ReadByte() (byte, error) {
	if err := f.fill(); err != nil {
		return 0, err
	}
	b := f.buf[0]
	f.buf = f.buf[1:]
	f.off++
	return b, nil
}
