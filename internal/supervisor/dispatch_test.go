package supervisor

import (
	"sync"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/signalname"
)

// gate is a serve function whose calls block until released, recording
// what ran and whether two calls for one trigger ever overlapped.
type gate struct {
	mu      sync.Mutex
	running map[string]int
	overlap bool
	served  []string
	started chan string
	release chan struct{}
}

func newGate() *gate {
	return &gate{running: map[string]int{}, started: make(chan string, 100), release: make(chan struct{})}
}

func (g *gate) serve(j job) {
	g.mu.Lock()
	g.running[j.target.Trigger]++
	g.overlap = g.overlap || g.running[j.target.Trigger] > 1
	g.served = append(g.served, j.signal)
	g.mu.Unlock()
	g.started <- j.signal
	<-g.release
	g.mu.Lock()
	g.running[j.target.Trigger]--
	g.mu.Unlock()
}

func (g *gate) expectStart(t *testing.T, signal string) {
	t.Helper()
	select {
	case got := <-g.started:
		if got != signal {
			t.Fatalf("started %s, want %s", got, signal)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not start", signal)
	}
}

func (g *gate) expectNoStart(t *testing.T) {
	t.Helper()
	select {
	case got := <-g.started:
		t.Fatalf("unexpected start of %s", got)
	case <-time.After(50 * time.Millisecond):
	}
}

func jobFor(signal, trigger string, args ...string) job {
	return job{signal: signal, target: signalname.Target{Trigger: trigger, Args: args}}
}

func TestDispatcherCoalescesAndSerialises(t *testing.T) {
	g := newGate()
	d := newDispatcher(g.serve)
	d.request(jobFor("update", "update"))
	g.expectStart(t, "update")
	// While update runs: a burst of the same signal, two signals of the
	// generic app trigger, and a different trigger, which runs at once.
	for range 100 {
		if !d.request(jobFor("update", "update")) {
			t.Fatal("request dropped")
		}
	}
	d.request(jobFor("app-a", "app", "a"))
	g.expectStart(t, "app-a")
	d.request(jobFor("app-b", "app", "b"))
	d.request(jobFor("app-a", "app", "a"))
	d.request(jobFor("app-b", "app", "b"))
	g.expectNoStart(t)

	g.release <- struct{}{} // one of update, app-a ends
	g.release <- struct{}{} // the other ends
	// Now exactly one more update and, in order, app-b then app-a.
	for range 3 {
		select {
		case <-g.started:
		case <-time.After(5 * time.Second):
			t.Fatal("coalesced runs did not start")
		}
		g.release <- struct{}{}
	}
	g.expectNoStart(t)
	d.stop()
	d.wait()
	if g.overlap {
		t.Error("two runs of one trigger overlapped")
	}
	count := map[string]int{}
	for _, s := range g.served {
		count[s]++
	}
	if count["update"] != 2 || count["app-a"] != 2 || count["app-b"] != 1 {
		t.Errorf("served %v, want update twice, app-a twice, app-b once", g.served)
	}
}

func TestDispatcherCapsWaitingAndStops(t *testing.T) {
	g := newGate()
	d := newDispatcher(g.serve)
	d.request(jobFor("app-first", "app", "first"))
	g.expectStart(t, "app-first")
	for i := range maxPending {
		if !d.request(jobFor("app-"+string(rune('a'+i%26))+string(rune('a'+i/26)), "app")) {
			t.Fatalf("request %d dropped below the cap", i)
		}
	}
	if d.request(jobFor("app-over", "app")) {
		t.Error("request beyond the cap accepted")
	}
	if n := d.stop(); n != 1 {
		t.Errorf("stop: %d running, want 1", n)
	}
	if d.request(jobFor("update", "update")) {
		t.Error("request after stop accepted")
	}
	g.release <- struct{}{}
	d.wait() // the waiting jobs are not served after stop
	g.expectNoStart(t)
}
