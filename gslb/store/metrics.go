package store

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/gslb"
)

// kinds are the label values of the per-kind metrics, every one
// initialised so that a dashboard sees 0 rather than no series.
var kinds = []string{
	gslb.KindZone.String(), gslb.KindRegion.String(), gslb.KindService.String(),
	gslb.KindPool.String(), gslb.KindNetwork.String(),
	gslb.KindProxyStatus.String(), gslb.KindProbeStatus.String(),
}

type metrics struct {
	rejected     *prometheus.CounterVec
	problems     prometheus.Gauge
	revision     prometheus.Gauge
	connected    prometheus.Gauge
	swaps        prometheus.Counter
	relists      prometheus.Counter
	keys         *prometheus.GaugeVec
	applySeconds prometheus.Histogram
	fromDisk     prometheus.Gauge
}

// newMetrics makes the store's metrics and registers them on reg (nil: the
// metrics are kept but not exported).
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_config_rejected_total",
			Help: "Values in etcd rejected (bad JSON, failed validation, dangling reference, unknown key); the key keeps its last good value.",
		}, []string{"kind"}),
		problems: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meridian_config_problems",
			Help: "Dangling references in the served snapshot (for example a service naming a deleted region).",
		}),
		revision: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meridian_store_revision",
			Help: "etcd revision of the keyspace as last seen by the store.",
		}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meridian_store_connected",
			Help: "1 while the store has a working watch on etcd, 0 otherwise.",
		}),
		swaps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meridian_store_snapshot_swaps_total",
			Help: "Snapshots swapped in.",
		}),
		relists: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meridian_store_relists_total",
			Help: "Full reads of the keyspace after the first (each follows a broken watch).",
		}),
		keys: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meridian_store_keys",
			Help: "Keys in the served snapshot, by kind.",
		}, []string{"kind"}),
		applySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "meridian_store_apply_seconds",
			Help: "Time from receiving a watch response to swapping in the snapshot it makes.",
			// 100us to 1.6s: a rebuild of a small keyspace takes well
			// under a millisecond; seconds would mean a huge keyspace.
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 8),
		}),
		fromDisk: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meridian_store_serving_from_disk",
			Help: "1 while the served snapshot comes from the state file (etcd unreachable since start).",
		}),
	}
	for _, k := range append(kinds, kindUnknown) {
		m.rejected.WithLabelValues(k)
	}
	for _, k := range kinds {
		m.keys.WithLabelValues(k)
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.rejected, m.problems, m.revision, m.connected, m.swaps, m.relists, m.keys, m.applySeconds, m.fromDisk} {
		errs = append(errs, reg.Register(c))
	}
	return m, errors.Join(errs...)
}

func (m *metrics) setKeys(s *gslb.Snapshot) {
	n := map[string]int{}
	for _, e := range s.Entries() {
		n[e.Key.Kind.String()]++
	}
	for _, k := range kinds {
		m.keys.WithLabelValues(k).Set(float64(n[k]))
	}
}
