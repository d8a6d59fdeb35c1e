// Package journal is a write-ahead log: an append-only file of records that
// survives kill -9 and power loss, in the style of etcd's WAL.
//
// On disk a journal is an 8-byte magic header followed by records:
//
//	uint32 LE  payload length n (1..MaxRecord)
//	uint32 LE  CRC-32C chained over the previous record's CRC, the length bytes and the payload
//	n bytes    payload
//
// Invariants:
//   - Append returns only after the record is on disk (fdatasync), so a
//     caller that journals a step before doing it knows the record survives
//     whatever happens next.
//   - The records of one Append are written with one write(2), so a crash
//     tears at most the last of them. Replay stops at the first record
//     whose length or CRC is wrong and reports where the valid prefix
//     ends; Open truncates the rest.
//     Disk data never makes the reader panic or allocate more than MaxRecord.
//   - The CRC chain starts from the header, so a record only validates after
//     the exact records that preceded it when it was written.
//   - Create replaces any previous journal atomically: a reader sees the
//     old journal or the new empty one, never a mix.
//
// The journal does not interpret payloads; the engine defines them.
package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/hoist-dev/hoist/internal/safefs"
)

// MaxRecord caps one payload; longer lengths on disk are damage, not records.
const MaxRecord = 1 << 20

// MaxSize caps how much of a journal file is read.
const MaxSize = 64 << 20

// magic starts every journal; the 1 is the format version.
const magic = "HOISTJ1\n"

const recordHeader = 8

// reserve is how much disk space Create sets aside (without changing the
// file's size) so that appends still succeed on a disk that fills up
// during an update: the records that say how to undo it must get written.
const reserve = 1 << 20

var (
	// ErrTorn means bytes follow the last valid record: a write cut short
	// by a crash, or damage. Replay's records are still valid.
	ErrTorn = errors.New("journal has a torn or damaged tail")
	// ErrNotJournal means the file does not start with the journal header.
	ErrNotJournal = errors.New("not a hoist journal")
	// ErrRecordSize means a payload is empty or exceeds MaxRecord.
	ErrRecordSize = errors.New("journal record must be 1 byte to 1 MiB long")
)

var table = crc32.MakeTable(crc32.Castagnoli)

// Replay decodes a journal's bytes. It returns the payloads of the valid
// records in order and the length of the valid prefix. When bytes follow
// that prefix the error wraps ErrTorn; when the header is wrong it wraps
// ErrNotJournal and valid is 0. Replay does no I/O and never panics.
func Replay(data []byte) (records [][]byte, valid int, err error) {
	if len(data) < len(magic) || string(data[:len(magic)]) != magic {
		return nil, 0, ErrNotJournal
	}
	crc := crc32.Checksum([]byte(magic), table)
	off := len(magic)
	for off < len(data) {
		rest := data[off:]
		if len(rest) < recordHeader {
			return records, off, fmt.Errorf("%w: %d stray bytes at offset %d", ErrTorn, len(rest), off)
		}
		n := binary.LittleEndian.Uint32(rest[0:4])
		if n == 0 || n > MaxRecord || int64(n) > int64(len(rest)-recordHeader) {
			return records, off, fmt.Errorf("%w: bad record length %d at offset %d", ErrTorn, n, off)
		}
		payload := rest[recordHeader : recordHeader+int(n)]
		next := chain(crc, rest[0:4], payload)
		if binary.LittleEndian.Uint32(rest[4:8]) != next {
			return records, off, fmt.Errorf("%w: checksum mismatch at offset %d", ErrTorn, off)
		}
		crc = next
		records = append(records, payload)
		off += recordHeader + int(n)
	}
	return records, off, nil
}

// encodeAll encodes payloads as the records following the one whose CRC
// is prev, and returns them and the last one's CRC.
func encodeAll(prev uint32, payloads [][]byte) ([]byte, uint32, error) {
	var buf []byte
	for _, p := range payloads {
		if len(p) == 0 || len(p) > MaxRecord {
			return nil, 0, fmt.Errorf("%w: %d bytes", ErrRecordSize, len(p))
		}
		buf, prev = encode(buf, prev, p)
	}
	return buf, prev, nil
}

// encode appends the record for payload, chained to prev, to dst and
// returns it with the record's CRC.
func encode(dst []byte, prev uint32, payload []byte) ([]byte, uint32) {
	var h [recordHeader]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
	crc := chain(prev, h[0:4], payload)
	binary.LittleEndian.PutUint32(h[4:8], crc)
	return append(append(dst, h[:]...), payload...), crc
}

func chain(prev uint32, length, payload []byte) uint32 {
	return crc32.Update(crc32.Update(prev, table, length), table, payload)
}

// Journal is a journal open for appending.
type Journal struct {
	f   *os.File
	crc uint32 // CRC of the last record, chained into the next
	end int64  // end of the last record
	// Truncated is how many bytes of torn tail Open cut off (0 if none).
	Truncated int64
}

// Create atomically replaces dir/name with a journal holding records (none:
// an empty one) and opens it: the first records cost no fdatasync of their
// own.
func Create(dir *os.Root, name string, records ...[]byte) (*Journal, error) {
	buf, _, err := encodeAll(crc32.Checksum([]byte(magic), table), records)
	if err != nil {
		return nil, err
	}
	if err := safefs.WriteFile(dir, name, append([]byte(magic), buf...), 0o600); err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	j, _, err := Open(dir, name)
	return j, err
}

// Open opens the journal dir/name for appending and returns its records. A
// torn tail is cut off (and j.Truncated says how much) so that new records
// follow the last valid one. A missing journal is an error matching
// fs.ErrNotExist; a file that is not a journal wraps ErrNotJournal.
func Open(dir *os.Root, name string) (*Journal, [][]byte, error) {
	f, err := dir.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, err
	}
	j, records, err := open(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("journal %s: %w", name, err)
	}
	return j, records, nil
}

func open(f *os.File) (*Journal, [][]byte, error) {
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, nil, err
	}
	records, valid, err := Replay(data)
	if err != nil && !errors.Is(err, ErrTorn) {
		return nil, nil, err
	}
	j := &Journal{f: f, crc: crc32.Checksum([]byte(magic), table), end: int64(valid)}
	for _, r := range records {
		_, j.crc = encode(nil, j.crc, r)
	}
	if err != nil { // torn tail: cut it off so appends extend the valid prefix
		j.Truncated = int64(len(data) - valid)
		if err := f.Truncate(int64(valid)); err != nil {
			return nil, nil, fmt.Errorf("truncate torn tail: %w", err)
		}
		if err := f.Sync(); err != nil {
			return nil, nil, fmt.Errorf("fsync after truncating: %w", err)
		}
	}
	// Best effort: filesystems without fallocate still work, just without
	// the reserve.
	_ = unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, 0, reserve)
	return j, records, nil
}

// Append writes payloads as the next records, with one write(2) and one
// fdatasync, and returns once they are durable. A crash may keep any
// prefix of them.
func (j *Journal) Append(payloads ...[]byte) error {
	buf, crc, err := encodeAll(j.crc, payloads)
	if err != nil {
		return err
	}
	if _, err := j.f.WriteAt(buf, j.end); err != nil {
		// Cut off whatever part got written, so the next append follows
		// the last valid record instead of a torn one.
		_ = j.f.Truncate(j.end)
		return fmt.Errorf("append to journal: %w", err)
	}
	if err := unix.Fdatasync(int(j.f.Fd())); err != nil {
		return fmt.Errorf("sync journal: %w", err)
	}
	j.crc = crc
	j.end += int64(len(buf))
	return nil
}

// Close closes the journal file.
func (j *Journal) Close() error { return j.f.Close() }
