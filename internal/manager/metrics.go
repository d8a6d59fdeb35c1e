package manager

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hoist-dev/hoist/internal/discovery"
	"github.com/hoist-dev/hoist/internal/statusfile"
)

// metrics are the manager's Prometheus metrics, in a registry of its own.
type metrics struct {
	requests  *prometheus.CounterVec
	lastCheck prometheus.Gauge
	checkOK   prometheus.Gauge
	fleet     *fleetMetrics
	handler   http.Handler

	mu        sync.Mutex // makes recordCheck's Reset and Set of available one step
	available *prometheus.GaugeVec
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hoist_manager_http_requests_total",
			Help: "HTTP requests by route, method and status code.",
		}, []string{"handler", "method", "code"}),
		lastCheck: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hoist_manager_last_check_timestamp_seconds",
			Help: "When the release repository was last asked for an update.",
		}),
		checkOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hoist_manager_last_check_success",
			Help: "1 if the last check reached the release repository, else 0.",
		}),
		available: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hoist_manager_available_version_info",
			Help: "The release the last check found to install next (absent when up to date); latest is the newest release.",
		}, []string{"version", "latest"}),
		fleet: newFleetMetrics(),
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.requests, m.lastCheck, m.checkOK, m.available, statusCollector{s},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(m.fleet.collectors()...)
	reg.MustRegister(metadataExpiry{s.cfg.Finder})
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return m
}

// recordCheck notes the result of a check for an update: u, unless its
// rollout held it back.
func (m *metrics) recordCheck(u *discovery.Update, held *discovery.Phased, err error) {
	m.lastCheck.SetToCurrentTime()
	if err != nil {
		m.checkOK.Set(0)
		return
	}
	m.checkOK.Set(1)
	m.fleet.record(u, held, time.Now())
	m.mu.Lock()
	defer m.mu.Unlock()
	m.available.Reset()
	if u != nil && held == nil {
		latest := u.Latest
		if latest == "" {
			latest = u.Version
		}
		m.available.WithLabelValues(u.Version, latest).Set(1)
	}
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) error {
	s.met.handler.ServeHTTP(w, r)
	return nil
}

var (
	stateDesc     = prometheus.NewDesc("hoist_manager_update_state", "1 for the current update state, else 0.", []string{"state"}, nil)
	progressDesc  = prometheus.NewDesc("hoist_manager_update_progress", "Progress of the current or last update, 0-100.", nil, nil)
	installedDesc = prometheus.NewDesc("hoist_manager_installed_version_info", "The installed release.", []string{"version"}, nil)
)

// statusCollector reads the status file and the installed release at each
// scrape, so the metrics never lag behind the files.
type statusCollector struct{ s *Server }

func (statusCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- stateDesc
	ch <- progressDesc
	ch <- installedDesc
	ch <- infoDesc
}

func (c statusCollector) Collect(ch chan<- prometheus.Metric) {
	if a := c.s.status.get(); a.err == nil {
		st := a.st
		for _, state := range []statusfile.State{statusfile.Installing, statusfile.Success, statusfile.Failed} {
			v := 0.0
			if st.State == state {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(stateDesc, prometheus.GaugeValue, v, string(state))
		}
		ch <- prometheus.MustNewConstMetric(progressDesc, prometheus.GaugeValue, float64(st.Progress))
	}
	info, _, err := discovery.Installed(c.s.root)
	if err == nil {
		ch <- prometheus.MustNewConstMetric(installedDesc, prometheus.GaugeValue, 1, info.Version)
	}
	ch <- prometheus.MustNewConstMetric(infoDesc, prometheus.GaugeValue, 1, c.s.nodeID(), info.Version, channel)
}
