package objfetch

import (
	"context"

	"golang.org/x/sync/errgroup"
)

// DefaultParallel is how many objects GetAll downloads at once: enough to
// hide a round trip per small object, few enough to be polite to the server.
const DefaultParallel = 4

// Object is one download of GetAll (see Get).
type Object struct {
	URL     string
	Size    int64
	SHA256  string
	Partial string
}

// GetAll downloads objs, at most parallel at once (0 means
// DefaultParallel). done, if not nil, is called (from the downloading
// goroutine) after each object is complete, e.g. to rename it into a
// cache. The first error stops the others and is returned; the partial
// files of unfinished objects stay for a later run to resume.
func (c *Client) GetAll(ctx context.Context, objs []Object, parallel int, done func(Object) error) error {
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for _, o := range objs {
		if ctx.Err() != nil {
			break // another object failed: start no more
		}
		g.Go(func() error {
			if err := c.Get(ctx, o.URL, o.Size, o.SHA256, o.Partial); err != nil {
				return err
			}
			if done != nil {
				return done(o)
			}
			return nil
		})
	}
	return g.Wait()
}
