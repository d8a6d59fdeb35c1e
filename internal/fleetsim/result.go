package fleetsim

import "time"

// Result is what the server saw.
type Result struct {
	Nodes int
	// Steady is the traffic while nothing was new, over SteadyHours, in
	// which Checks checks ended.
	Steady      Window
	SteadyHours float64
	Checks      int
	// CheckWall is the mean wall-clock time of those checks: how far a
	// busy machine let the nodes fall behind the compressed clock.
	CheckWall time.Duration
	// Phase is the traffic after publishing a release with percent 10
	// (static only), and Downloaded the nodes that fetched it.
	Phase      Window
	Downloaded int
	// Baseline is the bytes of one naive check: an unconditional GET of
	// timestamp.json (static), one `git ls-remote` (git).
	Baseline  int64
	Failures  int64
	LastError error // of a failed check
	Wall      time.Duration
}

// RequestsPerNodeHour and BytesPerNodeHour are Steady's rates.
func (r Result) RequestsPerNodeHour() float64 {
	return float64(r.Steady.Requests) / (float64(r.Nodes) * r.SteadyHours)
}

func (r Result) BytesPerNodeHour() float64 {
	return float64(r.Steady.Bytes) / (float64(r.Nodes) * r.SteadyHours)
}

// RequestsPerCheck and BytesPerCheck are Steady's traffic per check: per
// node-hour when nodes check hourly, whether or not a loaded machine
// slowed the checks down in simulated time.
func (r Result) RequestsPerCheck() float64 { return float64(r.Steady.Requests) / float64(r.Checks) }

func (r Result) BytesPerCheck() float64 { return float64(r.Steady.Bytes) / float64(r.Checks) }

// PeakPerSecond is the busiest simulated minute of Steady at the server,
// per second.
func (r Result) PeakPerSecond() float64 { return float64(r.Steady.PeakPerMinute) / 60 }

// ChecksPerNodeHour is how often the nodes managed to check: 1 when the
// machine kept up with the compressed clock.
func (r Result) ChecksPerNodeHour() float64 {
	return float64(r.Checks) / (float64(r.Nodes) * r.SteadyHours)
}

func (r *Result) setChecks(st checkStats) {
	r.Checks, r.CheckWall = st.n, st.wall
}
