package supervisor

import "sync"

// maxNoted caps the names remembered as already reported.
const maxNoted = 1024

// noted remembers which entries of the signals directory have been reported
// as refused or ignored, so that a name the manager keeps rewriting is
// logged once, not once per event or rescan. The set is capped: a manager
// inventing names without end cannot grow the supervisor's memory.
type noted struct {
	mu      sync.Mutex        // guards the fields below
	reasons map[string]string // name → reason reported
	full    bool              // the cap was reached and reported
}

func newNoted() *noted { return &noted{reasons: map[string]string{}} }

// add records that name is refused for reason. It reports whether this is
// news (log it) and whether the cap was reached just now (log that instead).
func (n *noted) add(name, reason string) (news, full bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if old, ok := n.reasons[name]; ok {
		if old == reason {
			return false, false
		}
	} else if len(n.reasons) >= maxNoted {
		if n.full {
			return false, false
		}
		n.full = true
		return false, true
	}
	n.reasons[name] = reason
	return true, false
}

// forget drops name, which was just served as a valid signal: if it is
// refused again later, that is news.
func (n *noted) forget(name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.reasons, name)
}
