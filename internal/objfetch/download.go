package objfetch

import (
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/hoist-dev/hoist/internal/iobuf"
	"github.com/hoist-dev/hoist/internal/repoauth"
)

// download is one Get: the partial file and what it holds so far.
type download struct {
	c    *Client
	url  string
	size int64
	want []byte
	f    *os.File
	tee  io.Writer // if not nil, gets each byte the file gets (Stream)

	h hash.Hash // sha256 of the file's first n bytes
	n int64
	// spliced: the file's bytes did not all come from one response. A
	// wrong hash over them may be a torn write of an earlier run rather
	// than the server's fault, so it earns one download from byte 0 before
	// it is called a mismatch.
	spliced bool
	noRange bool // the server answered a Range request wrongly
}

// run resumes what the file holds, then downloads the rest.
func (d *download) run(ctx context.Context) error {
	if err := d.resume(); err != nil {
		return err
	}
	return d.c.withRetries(ctx, d.url, d.attempt)
}

// resume hashes what an earlier run left in the file, or empties a file
// longer than the object.
func (d *download) resume() error {
	d.h = sha256.New()
	fi, err := d.f.Stat()
	if err != nil {
		return permanent{err}
	}
	if fi.Size() > d.size {
		return d.truncate()
	}
	var w io.Writer = d.h
	if d.tee != nil {
		w = io.MultiWriter(d.h, teeWriter{d.tee})
	}
	n, err := iobuf.Copy(w, d.f)
	if err != nil {
		return permanent{fmt.Errorf("read partial file: %w", err)}
	}
	d.n = n
	if n > 0 {
		d.spliced = true
		d.c.progress(n)
	}
	return nil
}

// truncate empties the file, to download the object from its first byte;
// under Stream, only while the writer has got nothing.
func (d *download) truncate() error {
	if d.tee != nil && d.n > 0 {
		return permanent{ErrRewound}
	}
	if err := d.f.Truncate(0); err != nil {
		return permanent{err}
	}
	if _, err := d.f.Seek(0, io.SeekStart); err != nil {
		return permanent{err}
	}
	if d.n > 0 {
		d.c.progress(-d.n)
	}
	d.h.Reset()
	d.n, d.spliced = 0, false
	return nil
}

// attempt makes one request and streams its body into the file.
func (d *download) attempt(ctx context.Context, stall *stallTimer) error {
	if d.n == d.size {
		return d.check()
	}
	start := d.rangeStart()
	resp, err := d.c.do(ctx, d.url, start)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := d.accept(resp, start >= 0); err != nil {
		return err
	}
	d.spliced = d.spliced || d.n > 0
	if _, err := iobuf.Copy(sink{d}, stall.reader(io.LimitReader(resp.Body, d.size-d.n+1))); err != nil {
		return err
	}
	if d.n < d.size {
		return fmt.Errorf("%w: connection ended after %d of %d bytes", io.ErrUnexpectedEOF, d.n, d.size)
	}
	return d.check()
}

// rangeStart is the offset to ask for, -1 for the whole object.
func (d *download) rangeStart() int64 {
	if d.n == 0 || d.noRange {
		return -1
	}
	return d.n
}

// accept checks the answer's status and announced length and makes the
// file ready for its body: emptied if the server sends the whole object.
// A wrong answer to a Range request (ranged) makes the next attempt ask for
// the whole object.
func (d *download) accept(resp *http.Response, ranged bool) error {
	switch resp.StatusCode {
	case http.StatusOK:
		if err := d.truncate(); err != nil { // Range ignored, or not asked
			return err
		}
	case http.StatusPartialContent:
		start, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if ok && total >= 0 && total != d.size {
			return permanent{fmt.Errorf("%w: server has %d bytes, want %d", ErrMismatch, total, d.size)}
		}
		if (!ok || start != d.n) && ranged {
			d.noRange = true
			if err := d.truncate(); err != nil {
				return err
			}
			return errRestart
		}
		if !ok || start != d.n {
			return permanent{fmt.Errorf("invalid Content-Range %q", resp.Header.Get("Content-Range"))}
		}
	case http.StatusRequestedRangeNotSatisfiable:
		if !ranged {
			return statusError(resp)
		}
		// The server's object is shorter than what we hold: start again,
		// and let the length check say what is wrong.
		d.noRange = true
		if err := d.truncate(); err != nil {
			return err
		}
		return errRestart
	default:
		return statusError(resp)
	}
	if resp.ContentLength >= 0 && resp.ContentLength != d.size-d.n {
		return permanent{fmt.Errorf("%w: server announces %d bytes from offset %d, want %d", ErrMismatch, resp.ContentLength, d.n, d.size-d.n)}
	}
	return nil
}

// check compares the hash of the complete file with the signed one.
func (d *download) check() error {
	if string(d.h.Sum(nil)) == string(d.want) {
		return nil
	}
	if d.spliced {
		if err := d.truncate(); err != nil {
			return err
		}
		return errRestart
	}
	return permanent{fmt.Errorf("%w: sha256 %x, want %x", ErrMismatch, d.h.Sum(nil), d.want)}
}

// discard reports the bytes of a removed file as gone.
func (d *download) discard() {
	if d.n > 0 {
		d.c.progress(-d.n)
		d.n = 0
	}
}

// sink writes to the file and the hash, refusing anything past the size.
type sink struct{ d *download }

func (s sink) Write(p []byte) (int, error) {
	d := s.d
	if int64(len(p)) > d.size-d.n {
		return 0, permanent{fmt.Errorf("%w: server sent more than %d bytes", ErrMismatch, d.size)}
	}
	n, err := d.f.Write(p)
	d.h.Write(p[:n])
	d.n += int64(n)
	d.c.progress(int64(n))
	if err != nil {
		return n, permanent{fmt.Errorf("write partial file: %w", err)}
	}
	if d.tee != nil {
		return teeWriter{d.tee}.Write(p)
	}
	return n, nil
}

// teeWriter marks the errors of Stream's writer as final: its consumer
// gave up, and no retry can change that.
type teeWriter struct{ w io.Writer }

func (t teeWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if err != nil {
		return n, permanent{fmt.Errorf("stream: %w", err)}
	}
	return n, nil
}

// parseContentRange parses "bytes START-END/TOTAL" (TOTAL -1 for "*").
func parseContentRange(v string) (start, total int64, ok bool) {
	rest, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, false
	}
	span, size, found := strings.Cut(rest, "/")
	first, _, found2 := strings.Cut(span, "-")
	if !found || !found2 {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false
	}
	if size == "*" {
		return start, -1, true
	}
	total, err = strconv.ParseInt(size, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return start, total, true
}

// do sends a GET of rawURL, from offset start if start >= 0.
func (c *Client) do(ctx context.Context, rawURL string, start int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, permanent{err}
	}
	// identity: the length and hash are of the bytes as stored, and
	// net/http would otherwise ask for gzip and inflate it unbounded.
	req.Header.Set("Accept-Encoding", "identity")
	if start >= 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", start))
	}
	if c.token != "" {
		req.SetBasicAuth(repoauth.User, c.token)
	}
	return c.http.Do(req)
}
