package manager

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hoist-dev/hoist/internal/discovery"
)

// metadataExpiryDesc: a static repository stops updating nodes when its
// TUF metadata expires (the publisher's weekly refresh stopped), so the
// date is exported for an alert well before it.
var metadataExpiryDesc = prometheus.NewDesc("hoist_manager_release_metadata_expiry_timestamp_seconds",
	"When the static release repository's signed metadata, as last read, expires; absent for git repositories.", nil, nil)

// metadataExpiry collects metadataExpiryDesc from the finder's source.
type metadataExpiry struct{ f *discovery.Finder }

func (c metadataExpiry) Describe(ch chan<- *prometheus.Desc) { ch <- metadataExpiryDesc }

func (c metadataExpiry) Collect(ch chan<- prometheus.Metric) {
	if t, ok := c.f.MetadataExpires(); ok {
		ch <- prometheus.MustNewConstMetric(metadataExpiryDesc, prometheus.GaugeValue, float64(t.Unix()))
	}
}
