package manager

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hoist-dev/hoist/internal/discovery"
	"github.com/hoist-dev/hoist/internal/nodeid"
)

// nodeID is root's node id as copied into statuses/ ("" when missing or
// invalid: the copy is the manager's to break, root's file is the truth).
func (s *Server) nodeID() string {
	id, err := nodeid.Read(s.root, nodeid.Copy)
	if err != nil {
		return ""
	}
	return id
}

// infoAnswer is the answer of GET /v1/system/info: the live info.json,
// compacted (its keys and values as the publisher wrote them), with
// "node_id" added when the node has a valid id, ending in a newline as
// every answer does. raw parsed as an info.json, so it is one JSON object,
// and id is hex: adding it needs no re-encoding.
func infoAnswer(raw []byte, id string) ([]byte, error) {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, fmt.Errorf("installed info.json: %w", err)
	}
	if id != "" {
		b.Truncate(b.Len() - 1) // the closing brace
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"node_id":%q}`, id)
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// fleetMetrics are what Prometheus needs to watch many nodes: which node
// runs what, how long it has been behind, whether its checks still succeed
// and which rollout it waits for (deploy/prometheus/ alerts on them).
type fleetMetrics struct {
	lastSuccess prometheus.Gauge

	mu          sync.Mutex // guards behindSince and the vectors' Reset+Set
	behindSince time.Time  // zero while up to date
	behind      *prometheus.GaugeVec
	held        *prometheus.GaugeVec
}

func newFleetMetrics() *fleetMetrics {
	return &fleetMetrics{
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hoist_manager_last_successful_check_timestamp_seconds",
			Help: "When a check last reached the release repository; the manager's start time until then when automatic checks are on.",
		}),
		behind: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hoist_manager_behind_since_timestamp_seconds",
			Help: "Since when (as seen by this manager process) checks have found a release to install; absent when up to date or held by a rollout.",
		}, []string{"latest"}),
		held: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hoist_manager_rollout_held_percent",
			Help: "The share of nodes a phased release is rolling out to, while this node waits for it.",
		}, []string{"version"}),
	}
}

func (f *fleetMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{f.lastSuccess, f.behind, f.held}
}

// record notes a successful check's answer u and its rollout hold.
func (f *fleetMetrics) record(u *discovery.Update, held *discovery.Phased, now time.Time) {
	f.lastSuccess.Set(float64(now.UnixNano()) / 1e9)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.behind.Reset()
	f.held.Reset()
	if held != nil {
		f.held.WithLabelValues(held.Version).Set(held.Percent)
	}
	if u == nil || held != nil {
		f.behindSince = time.Time{}
		return
	}
	if f.behindSince.IsZero() {
		f.behindSince = now
	}
	f.behind.WithLabelValues(cmp.Or(u.Latest, u.Version)).Set(float64(f.behindSince.UnixNano()) / 1e9)
}

var infoDesc = prometheus.NewDesc("hoist_manager_info",
	"This node: its id, installed release and release channel.", []string{"node_id", "version", "channel"}, nil)
