package fleetsim

import (
	"strings"
	"time"

	"github.com/hoist-dev/hoist/internal/gitserver"
)

// Hit is one request as the server saw it.
type Hit struct {
	At     time.Time // wall clock, when the answer ended
	Path   string    // without the query
	Status int
	Bytes  int64 // received and sent, headers included
}

// gitHits are the requests srv has recorded.
func gitHits(srv *gitserver.Server) []Hit {
	reqs := srv.Requests()
	hits := make([]Hit, len(reqs))
	for i, r := range reqs {
		hits[i] = Hit(r)
	}
	return hits
}

// Window is the traffic of a simulated time span.
type Window struct {
	Requests int
	Bytes    int64
	Status   map[int]int
	// PeakPerMinute is the most requests of one simulated minute.
	PeakPerMinute int
	// Paths counts requests by path.
	Paths map[string]int
}

// window sums the hits whose simulated time is in [from, to).
func window(hits []Hit, c *Clock, from, to time.Time) Window {
	w := Window{Status: map[int]int{}, Paths: map[string]int{}}
	perMinute := map[int64]int{}
	for _, h := range hits {
		at := c.At(h.At)
		if at.Before(from) || !at.Before(to) {
			continue
		}
		w.Requests++
		w.Bytes += h.Bytes
		w.Status[h.Status]++
		w.Paths[h.Path]++
		m := int64(at.Sub(from) / time.Minute)
		perMinute[m]++
		w.PeakPerMinute = max(w.PeakPerMinute, perMinute[m])
	}
	return w
}

// count returns the requests of w whose path has prefix.
func (w Window) count(prefix string) int {
	n := 0
	for p, c := range w.Paths {
		if strings.HasPrefix(p, prefix) {
			n += c
		}
	}
	return n
}
