package regionproxy

import (
	"github.com/prometheus/client_golang/prometheus"
)

// noPool is the pool label of requests that matched no pool (404). Pool
// names are at least one character long, so it cannot collide with one.
const noPool = ""

// codeClasses bounds the code label: the class of the status sent to the
// client, never the exact code, which a backend chooses.
var codeClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// codeClass maps a status code to its index in codeClasses. 0 means nothing
// was written, which the server sends as 200.
func codeClass(code int) int {
	switch {
	case code == 0:
		return 1
	case code < 200:
		return 0
	case code >= 500:
		return 4
	}
	return code/100 - 1
}

type metrics struct {
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	attempts  *prometheus.CounterVec
	retries   *prometheus.CounterVec
	spillover *prometheus.CounterVec
	noBackend *prometheus.CounterVec
	backends  *prometheus.GaugeVec
	ejections prometheus.Counter
	panics    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, p *Proxy) *metrics {
	const ns, sub = "meridian", "proxy"
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "requests_total",
			Help: "Requests served, by pool (empty when no pool matched the host) and class of the status sent (1xx..5xx).",
		}, []string{"pool", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "request_duration_seconds",
			Help: "Time from receiving a request to the end of its response, by pool.",
			// From a loopback backend (well under a millisecond) to the 30 s
			// default response timeout; the default buckets start at 5 ms.
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"pool"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "upstream_attempts_total",
			Help: "Attempts to forward a request to a backend or spill-over proxy, by result: ok (a response came back), retry (failed, retried elsewhere), fail (failed, not retried).",
		}, []string{"pool", "result"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "retries_total",
			Help: "Failed attempts retried on another backend or spill-over proxy, by pool.",
		}, []string{"pool"}),
		spillover: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "spillover_total",
			Help: "Attempts sent to a proxy of another region because no local backend was left to try, by pool and region.",
		}, []string{"pool", "region"}),
		noBackend: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "no_backend_total",
			Help: "Requests answered 503 because no backend and no spill-over proxy was available, by pool.",
		}, []string{"pool"}),
		backends: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "backends",
			Help: "Backends of each pool by state: up (active check passing or absent, not passively ejected) or down.",
		}, []string{"pool", "state"}),
		ejections: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "backend_ejections_total",
			Help: "Backends taken out of rotation by passive health checking (consecutive failed attempts).",
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "panics_total",
			Help: "Panics recovered while serving a request.",
		}),
	}
	inFlight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: ns, Subsystem: sub, Name: "in_flight",
		Help: "Requests being served.",
	}, func() float64 { return float64(p.inFlight.Load()) })
	draining := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: ns, Subsystem: sub, Name: "draining",
		Help: "1 while the proxy drains before shutting down, else 0.",
	}, func() float64 {
		if p.draining.Load() {
			return 1
		}
		return 0
	})
	// The series of requests that match no pool exist from the start.
	for _, c := range codeClasses {
		m.requests.WithLabelValues(noPool, c)
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration, m.attempts, m.retries, m.spillover,
			m.noBackend, m.backends, m.ejections, m.panics, inFlight, draining)
	}
	return m
}

// poolMetrics are one pool's series, looked up once per snapshot so that the
// request path only touches atomics.
type poolMetrics struct {
	codes         [len(codeClasses)]prometheus.Counter
	duration      prometheus.Observer
	ok, retry     prometheus.Counter
	fail, retries prometheus.Counter
	noBackend     prometheus.Counter
	up, down      prometheus.Gauge
}

func (m *metrics) forPool(name string) *poolMetrics {
	pm := &poolMetrics{
		duration: m.duration.WithLabelValues(name),
	}
	for i, c := range codeClasses {
		pm.codes[i] = m.requests.WithLabelValues(name, c)
	}
	if name == noPool {
		return pm
	}
	pm.ok = m.attempts.WithLabelValues(name, "ok")
	pm.retry = m.attempts.WithLabelValues(name, "retry")
	pm.fail = m.attempts.WithLabelValues(name, "fail")
	pm.retries = m.retries.WithLabelValues(name)
	pm.noBackend = m.noBackend.WithLabelValues(name)
	pm.up = m.backends.WithLabelValues(name, "up")
	pm.down = m.backends.WithLabelValues(name, "down")
	return pm
}

// forget deletes the series of a pool that no longer exists, so that a
// renamed pool does not leave its old series behind forever.
func (m *metrics) forget(name string) {
	l := prometheus.Labels{"pool": name}
	m.requests.DeletePartialMatch(l)
	m.duration.DeletePartialMatch(l)
	m.attempts.DeletePartialMatch(l)
	m.retries.DeletePartialMatch(l)
	m.spillover.DeletePartialMatch(l)
	m.noBackend.DeletePartialMatch(l)
	m.backends.DeletePartialMatch(l)
}
