package fleetsim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-version"

	"github.com/hoist-dev/hoist/internal/checkloop"
	"github.com/hoist-dev/hoist/internal/discovery"
)

// Interval is how often the simulated nodes check.
const Interval = time.Hour

// fleet runs nodes and counts what they did.
type fleet struct {
	clock *Clock
	// open returns node i's Source: each node has its own, with its own
	// cache, as separate machines do.
	open func(i int) (discovery.Source, error)
	// download fetches release tag for a node in its rollout.
	download func(ctx context.Context, tag string) error

	// round counts changes of the repository (0: the start); caughtUp
	// counts the nodes that checked successfully since the last change.
	round      atomic.Int64
	caughtUp   atomic.Int64
	failures   atomic.Int64
	downloaded atomic.Int64
	mu         sync.Mutex // guards the fields below
	lastErr    error
	checks     []checkRun // each successful check
}

// checkRun is one successful check: its simulated end, its wall-clock
// duration.
type checkRun struct {
	end  time.Time
	wall time.Duration
}

// checkTimeout bounds one check of a simulated node: generous, because
// on a loaded machine requests queue, and a timeout would make the node
// retry and load the server more.
const checkTimeout = 2 * time.Minute

// prewarmWorkers bound the nodes checking at once while the fleet warms up.
const prewarmWorkers = 4

// start runs n nodes on 1.0.0 until ctx ends; wait waits for them. Each
// node first checks once outside the compressed clock, a few at a time:
// the fleet has been running for a while, and its first full reads (a
// clone, a TUF refresh per node) would otherwise arrive in the first
// simulated hour, 3.6 s.
func (f *fleet) start(ctx context.Context, n int, seed uint64) (wait func(), err error) {
	nodes := make([]*node, n)
	installed := version.Must(version.NewVersion("1.0.0"))
	for i := range nodes {
		src, err := f.open(i)
		if err != nil {
			return func() {}, err
		}
		nodes[i] = &node{f: f, id: newNodeID(), finder: discovery.NewFinder(src, 0, checkTimeout), installed: installed, round: -1}
	}
	if err := f.prewarm(ctx, nodes); err != nil {
		return func() {}, err
	}
	var wg sync.WaitGroup
	for i, nd := range nodes {
		loop := checkloop.Loop{
			Schedule: checkloop.Schedule{Interval: Interval, Rand: mrand.New(mrand.NewPCG(seed, uint64(i)))},
			Clock:    f.clock,
			Check:    nd.check,
		}
		wg.Go(func() { loop.Run(ctx) })
	}
	return wg.Wait, nil
}

// prewarm runs each node's first check, prewarmWorkers at a time.
func (f *fleet) prewarm(ctx context.Context, nodes []*node) error {
	next := make(chan *node)
	var wg sync.WaitGroup
	for range prewarmWorkers {
		wg.Go(func() {
			for nd := range next {
				nd.check(ctx)
			}
		})
	}
	for _, nd := range nodes {
		next <- nd
	}
	close(next)
	wg.Wait()
	if f.failures.Load() > 0 {
		return fmt.Errorf("warming up: %d of %d first checks failed (last: %v)", f.failures.Load(), len(nodes), f.err())
	}
	return nil
}

// node is one simulated node: its id, what it runs, its Finder.
type node struct {
	f         *fleet
	id        string
	finder    *discovery.Finder
	installed *version.Version
	round     int64 // of the last successful check; -1: none yet
}

// check is what the manager's automatic check does with auto-update on:
// ask for the next release, respect its rollout, install it.
func (n *node) check(ctx context.Context) error {
	round, start := n.f.round.Load(), time.Now()
	err := n.update(ctx)
	if err != nil && ctx.Err() != nil {
		return err // the simulation ended
	}
	if err != nil {
		n.f.failures.Add(1)
		n.f.mu.Lock()
		n.f.lastErr = err
		n.f.mu.Unlock()
		return err
	}
	if round > n.round {
		n.round = round
		n.f.caughtUp.Add(1)
	}
	n.f.mu.Lock()
	n.f.checks = append(n.f.checks, checkRun{n.f.clock.Now(), time.Since(start)})
	n.f.mu.Unlock()
	return nil
}

func (n *node) update(ctx context.Context) error {
	u, err := n.finder.Next(ctx, n.installed)
	if err != nil || u == nil || discovery.Hold(u, n.id, n.f.clock.Now()) != nil {
		return err
	}
	if err := n.f.download(ctx, u.Tag()); err != nil {
		return fmt.Errorf("download %s: %w", u.Tag(), err)
	}
	n.f.downloaded.Add(1)
	n.installed, err = version.NewVersion(u.Version)
	return err
}

// err is the last failure of a check, nil when none failed.
func (f *fleet) err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastErr
}

// checkStats describes the successful checks of a window.
type checkStats struct {
	n    int           // that ended in the window
	wall time.Duration // their mean wall-clock duration
}

// checksIn describes the successful checks of [from, to).
func (f *fleet) checksIn(from, to time.Time) checkStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	var st checkStats
	var sum time.Duration
	for _, c := range f.checks {
		if !c.end.Before(from) && c.end.Before(to) {
			st.n++
			sum += c.wall
		}
	}
	if st.n > 0 {
		st.wall = sum / time.Duration(st.n)
	}
	return st
}

// changed starts a new round: call it once the repository changed.
func (f *fleet) changed() {
	f.caughtUp.Store(0)
	f.round.Add(1)
}

// waitCaughtUp waits until the simulated time at and until every one of n
// nodes has checked successfully in this round, or until the wall-clock
// limit; it returns the simulated time then. On a loaded machine nodes
// fall behind the compressed clock; waiting for them keeps what was asked
// for a round in that round.
func (f *fleet) waitCaughtUp(ctx context.Context, n int, at time.Time, limit time.Duration) (time.Time, error) {
	if err := f.clock.SleepUntil(ctx, at); err != nil {
		return time.Time{}, err
	}
	deadline := time.Now().Add(limit)
	for f.caughtUp.Load() < int64(n) {
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%d of %d nodes checked in %s (last failure: %v)", f.caughtUp.Load(), n, limit, f.err())
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return f.clock.Now(), nil
}

func newNodeID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}
