package probes

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Prometheus metrics of one or more Monitors. A nil *Metrics records nothing.
type Metrics struct {
	checks      *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	targetUp    *prometheus.GaugeVec
	transitions *prometheus.CounterVec
}

// NewMetrics creates the metrics meridian_<subsystem>_* and registers them on reg (when reg is
// not nil), panicking if that fails, as prometheus.MustRegister does. Use one subsystem per
// role: "probe" in meridian probe, "proxy_backend" in the proxy.
func NewMetrics(reg prometheus.Registerer, subsystem string) *Metrics {
	const ns = "meridian"
	m := &Metrics{
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: subsystem, Name: "checks_total",
			Help: "Health checks run, by result (up or down) before rise/fall hysteresis.",
		}, []string{"result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: subsystem, Name: "check_duration_seconds",
			Help: "Duration of health checks, by result (up or down); timed-out checks land at their timeout.",
			// From loopback backends (well under a millisecond) to the longest sensible
			// timeout; Prometheus's default buckets start at 5 ms, too coarse for a local pool.
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"result"}),
		targetUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: subsystem, Name: "target_up",
			Help: "Whether a target is up (1) or down (0) after rise/fall hysteresis; absent until its first check.",
		}, []string{"target"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: subsystem, Name: "transitions_total",
			Help: "Changes of target state after rise/fall hysteresis, by new state (up or down).",
		}, []string{"to"}),
	}
	// Create the fixed label values now so that rate() and absent() work from the first scrape.
	for _, v := range []string{"up", "down"} {
		m.checks.WithLabelValues(v)
		m.transitions.WithLabelValues(v)
	}
	if reg != nil {
		reg.MustRegister(m.checks, m.duration, m.targetUp, m.transitions)
	}
	return m
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

func (m *Metrics) observeResult(r Result) {
	if m == nil {
		return
	}
	m.checks.WithLabelValues(upDown(r.Up)).Inc()
	m.duration.WithLabelValues(upDown(r.Up)).Observe(r.RTT.Seconds())
}

func (m *Metrics) setState(target string, up bool) {
	if m == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	m.targetUp.WithLabelValues(target).Set(v)
}

func (m *Metrics) transition(up bool) {
	if m == nil {
		return
	}
	m.transitions.WithLabelValues(upDown(up)).Inc()
}

func (m *Metrics) forget(target string) {
	if m == nil {
		return
	}
	m.targetUp.DeleteLabelValues(target)
}
