package supervisor

import (
	"slices"
	"sync"

	"github.com/hoist-dev/hoist/internal/signalname"
)

// maxPending caps the distinct signals waiting for one busy trigger (only
// app-REST and repo-REST can make more than one).
const maxPending = 256

// job is a signal and the trigger serving it.
type job struct {
	signal string
	target signalname.Target
}

// dispatcher serialises the runs of each trigger and runs different
// triggers concurrently. A job for a busy trigger waits; the same signal
// waiting twice is one job, which is what coalesces a burst into one run.
type dispatcher struct {
	serve func(job) // takes the signal and runs its trigger

	mu      sync.Mutex // guards the fields below
	stopped bool
	busy    map[string][]job // by trigger: jobs waiting while it runs
	wg      sync.WaitGroup   // one per busy trigger
}

func newDispatcher(serve func(job)) *dispatcher {
	return &dispatcher{serve: serve, busy: map[string][]job{}}
}

// request serves j now if its trigger is idle, else after the trigger's
// current run. It returns false if j was dropped: the dispatcher is stopped
// or too many signals wait for the trigger.
func (d *dispatcher) request(j job) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return false
	}
	trigger := j.target.Trigger
	waiting, busy := d.busy[trigger]
	if !busy {
		d.busy[trigger] = nil
		d.wg.Add(1)
		go d.loop(trigger, j)
		return true
	}
	if slices.ContainsFunc(waiting, func(w job) bool { return w.signal == j.signal }) {
		return true
	}
	if len(waiting) >= maxPending {
		return false
	}
	d.busy[trigger] = append(waiting, j)
	return true
}

// loop serves j, then the jobs that queued up for trigger meanwhile.
func (d *dispatcher) loop(trigger string, j job) {
	defer d.wg.Done()
	for {
		d.serve(j)
		d.mu.Lock()
		waiting := d.busy[trigger]
		if d.stopped || len(waiting) == 0 {
			delete(d.busy, trigger)
			d.mu.Unlock()
			return
		}
		j = waiting[0]
		d.busy[trigger] = waiting[1:]
		d.mu.Unlock()
	}
}

// stop lets running jobs finish but starts no more; their signal files are
// still on disk for the next start. It returns how many triggers are running.
func (d *dispatcher) stop() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	return len(d.busy)
}

// wait returns when no trigger runs any more.
func (d *dispatcher) wait() { d.wg.Wait() }
