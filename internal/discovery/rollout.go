package discovery

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Rollout is a release's phased rollout (CONTRACT §12): a fixed Percent of
// the nodes, or from Start a share growing linearly to 100 % over Days.
type Rollout struct {
	Percent *float64   `json:"percent,omitempty"`
	Start   *time.Time `json:"start,omitempty"`
	Days    float64    `json:"days,omitempty"`
}

// rollout parses and checks info.json's rollout; nil when there is none.
func (i Info) rollout() (*Rollout, error) {
	if len(i.Rollout) == 0 {
		return nil, nil
	}
	var r Rollout
	dec := json.NewDecoder(bytes.NewReader(i.Rollout))
	dec.DisallowUnknownFields() // a misspelt "percnt" must not mean 100 %
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: rollout: %v", ErrBadInfo, err)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Validate checks r as nodes do: a percent within 0-100, or a start with
// positive days, never both.
func (r *Rollout) Validate() error {
	switch {
	case r.Percent != nil && r.Start == nil && r.Days == 0:
		if p := *r.Percent; p < 0 || p > 100 || math.IsNaN(p) {
			return fmt.Errorf("%w: rollout percent %v is not within 0-100", ErrBadInfo, p)
		}
		return nil
	case r.Percent == nil && r.Start != nil:
		if !(r.Days > 0) || math.IsInf(r.Days, 1) {
			return fmt.Errorf("%w: rollout days must be positive", ErrBadInfo)
		}
		return nil
	}
	return fmt.Errorf(`%w: rollout is {"percent": N} or {"start": RFC3339, "days": N}`, ErrBadInfo)
}

// PercentAt is the share of nodes, 0-100, the rollout includes at now.
func (r *Rollout) PercentAt(now time.Time) float64 {
	if r.Percent != nil {
		return *r.Percent
	}
	elapsed := now.Sub(*r.Start).Hours() / 24
	return math.Min(100, math.Max(0, 100*elapsed/r.Days))
}

// Bucket places a node in [0, 100) for a release: sha256 of the node id, a
// NUL byte and the version ("1.3.0"), its first 53 bits read as a big-endian
// fraction. The NUL keeps the encoding unambiguous; hashing the version
// gives each release a different first share of nodes.
func Bucket(nodeID, version string) float64 {
	sum := sha256.Sum256([]byte(nodeID + "\x00" + version))
	return float64(binary.BigEndian.Uint64(sum[:8])>>11) / (1 << 53) * 100
}

// Phased is get-update's note that the newest release is rolling out and
// this node is not in it yet.
type Phased struct {
	Version string  `json:"version"`
	Percent float64 `json:"percent"`
	// Bucket is this node's place in [0, 100): it gets the release once
	// the rollout passes it. Absent when the node has no id.
	Bucket *float64 `json:"bucket,omitempty"`
}

// Hold returns u's phase when the node nodeID is outside it at now, nil
// when the node may install u. The rollout is the newest release's, and it
// holds back the whole answer (an intermediate step too): the step is only
// needed to reach that release. A node without an id is outside every
// partial rollout, as it cannot know its place.
func Hold(u *Update, nodeID string, now time.Time) *Phased {
	if u == nil || u.rollout == nil {
		return nil
	}
	version := u.Version
	if u.Latest != "" {
		version = u.Latest
	}
	pct := u.rollout.PercentAt(now)
	if pct >= 100 {
		return nil
	}
	held := &Phased{Version: version, Percent: math.Round(pct*10) / 10}
	if nodeID != "" {
		b := Bucket(nodeID, version)
		if b < pct {
			return nil
		}
		b = math.Floor(b*10) / 10
		held.Bucket = &b
	}
	return held
}
