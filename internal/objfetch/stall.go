package objfetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"
)

// try runs one attempt under the stall timeout.
func (c *Client) try(ctx context.Context, attempt func(context.Context, *stallTimer) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	st := &stallTimer{limit: c.stall}
	st.timer = time.AfterFunc(c.stall, func() {
		cancel(fmt.Errorf("%w: nothing received for %s", ErrStalled, c.stall))
	})
	defer st.timer.Stop()
	err := attempt(ctx, st)
	if err == nil {
		return nil
	}
	if cause := context.Cause(ctx); errors.Is(cause, ErrStalled) {
		return cause
	}
	// net/http's *url.Error names the URL unredacted; Get names it itself.
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// stallTimer cancels an attempt when no byte arrives for limit: not while
// connecting, not while waiting for the answer, not between two reads.
type stallTimer struct {
	timer *time.Timer
	limit time.Duration
}

// reader returns r, restarting the timer whenever bytes arrive.
func (s *stallTimer) reader(r io.Reader) io.Reader { return &stallReader{r, s} }

type stallReader struct {
	r io.Reader
	s *stallTimer
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.s.timer.Reset(s.s.limit)
	}
	return n, err
}
