// Package iobuf copies streams with pooled buffers. io.Copy allocates a
// fresh 32 KiB buffer for every call whose ends are an *os.File and a hash
// or decompressor (neither side implements the fast path), which costs more
// than the copy itself for the many small files of a release.
package iobuf

import (
	"io"
	"sync"
)

// size is large enough that a syscall moves a useful amount, small enough
// that one buffer per concurrent copy costs nothing.
const size = 64 << 10

// buffers is a cache, not state: any buffer serves any call.
var buffers = sync.Pool{New: func() any {
	b := make([]byte, size)
	return &b
}}

// Copy is io.Copy through a pooled buffer.
func Copy(dst io.Writer, src io.Reader) (int64, error) {
	buf := buffers.Get().(*[]byte)
	defer buffers.Put(buf)
	// Hiding the ends' WriteTo and ReadFrom makes CopyBuffer use buf: the
	// fallbacks behind them (os.File's among them) allocate their own.
	return io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, *buf)
}
