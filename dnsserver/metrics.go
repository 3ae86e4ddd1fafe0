package dnsserver

import (
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Label values that are not names from the configuration.
const (
	labelNone  = "none"  // zone of a query outside every zone; region of a decision without one
	labelOther = "other" // qtype or rcode outside the fixed lists below
	protoUDP   = "udp"
	protoTCP   = "tcp"
)

// qtypeLabels bounds the qtype label: the types a GSLB zone is asked for
// in practice, the meta types we refuse, and "other". A fixed list, because
// the qtype is chosen by whoever sends the query.
var qtypeLabels = []uint16{
	dns.TypeA, dns.TypeAAAA, dns.TypeANY, dns.TypeCNAME, dns.TypeMX, dns.TypeNS,
	dns.TypeSOA, dns.TypeTXT, dns.TypeCAA, dns.TypeSRV, dns.TypePTR, dns.TypeHTTPS,
	dns.TypeSVCB, dns.TypeDS, dns.TypeDNSKEY, dns.TypeNAPTR, dns.TypeHINFO,
	dns.TypeTLSA, dns.TypeAXFR, dns.TypeIXFR,
}

var nQtypes = len(qtypeLabels) + 1 // + other

func qtypeIndex(t uint16) int {
	for i, q := range qtypeLabels {
		if q == t {
			return i
		}
	}
	return len(qtypeLabels)
}

func qtypeLabel(i int) string {
	if i < len(qtypeLabels) {
		return dns.TypeToString[qtypeLabels[i]]
	}
	return labelOther
}

// rcodeLabels are the rcodes this server sends. dns.RcodeToString is not
// used for names: it calls 16 BADSIG, and here 16 is always BADVERS.
var rcodeLabels = []struct {
	code int
	name string
}{
	{dns.RcodeSuccess, "NOERROR"},
	{dns.RcodeFormatError, "FORMERR"},
	{dns.RcodeServerFailure, "SERVFAIL"},
	{dns.RcodeNameError, "NXDOMAIN"},
	{dns.RcodeNotImplemented, "NOTIMP"},
	{dns.RcodeRefused, "REFUSED"},
	{dns.RcodeBadVers, "BADVERS"},
}

var nRcodes = len(rcodeLabels) + 1

func rcodeIndex(rc int) int {
	for i, r := range rcodeLabels {
		if r.code == rc {
			return i
		}
	}
	return len(rcodeLabels)
}

func rcodeLabel(i int) string {
	if i < len(rcodeLabels) {
		return rcodeLabels[i].name
	}
	return labelOther
}

func protoIndex(proto string) int {
	if proto == protoTCP {
		return 1
	}
	return 0
}

// metrics are the server's Prometheus metrics. Label-resolved children are
// cached so that the query path never builds a label slice or hashes label
// values: queries through zoneCounters, decisions through the compiled
// service.
type metrics struct {
	queries   *prometheus.CounterVec
	duration  [2]prometheus.Observer // by protoIndex
	decisions *prometheus.CounterVec
	fallback  *prometheus.CounterVec
	truncated prometheus.Counter
	panics    prometheus.Counter
	ecs       prometheus.Counter

	rrlDropped, rrlSlipped [nKinds]prometheus.Counter // by rrlKind
	tcpConns               prometheus.Gauge
	tcpRejected            prometheus.Counter
	queryLogSuppressed     prometheus.Counter
	udpReadErrors          prometheus.Counter
	udpWriteErrors         prometheus.Counter

	mu    sync.Mutex               // guards zones; taken only when compiling a snapshot
	zones map[string]*zoneCounters // by zone name, "none" included
	none  *zoneCounters
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "meridian", "dns"
	m := &metrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "queries_total",
			Help: "DNS queries answered, by zone (\"none\" outside every zone), query type (\"other\" outside a fixed list), response code and transport.",
		}, []string{"zone", "qtype", "rcode", "proto"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "decisions_total",
			Help: "Steering decisions for A, AAAA and ANY queries at service names, by service and chosen region (\"none\" when no region was answered).",
		}, []string{"service", "region"}),
		fallback: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "fallback_total",
			Help: "Steering decisions made by the service's fallback because no region was eligible.",
		}, []string{"service"}),
		truncated: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "truncated_total",
			Help: "Responses sent with the TC bit because the answer did not fit (over UDP, the client's buffer; over TCP, 64 KiB).",
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "panics_total",
			Help: "Panics recovered while answering a query (each answered SERVFAIL).",
		}),
		ecs: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "ecs_queries_total",
			Help: "Queries carrying a valid EDNS Client Subnet option.",
		}),
		zones: map[string]*zoneCounters{},
	}
	hist := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns, Subsystem: sub, Name: "query_duration_seconds",
		Help: "Time to answer a query, by transport: over UDP from the read of the batch of queries it came in to the send of the batch's answers; over TCP from the query read to its answer written.",
		// An answer from memory takes a few microseconds; the top buckets
		// catch GC pauses and slow socket writes. The default buckets start
		// at 5 ms and would put every query in the first one.
		Buckets: []float64{5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 2.5e-2, 0.1},
	}, []string{"proto"})
	for i, p := range []string{protoUDP, protoTCP} {
		m.duration[i] = hist.WithLabelValues(p)
	}
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "rrl_dropped_total",
		Help: "UDP responses not sent because response rate limiting limited them, by kind of response (answer, nodata, nxdomain, referral, error).",
	}, []string{"kind"})
	slipped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "rrl_slipped_total",
		Help: "UDP responses limited by response rate limiting and sent empty with TC set instead, so that the client retries over TCP, by kind of response.",
	}, []string{"kind"})
	for k := range nKinds {
		m.rrlDropped[k] = dropped.WithLabelValues(rrlKindLabels[k])
		m.rrlSlipped[k] = slipped.WithLabelValues(rrlKindLabels[k])
	}
	m.tcpConns = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: ns, Subsystem: sub, Name: "tcp_connections",
		Help: "Open TCP connections.",
	})
	m.tcpRejected = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "tcp_connections_rejected_total",
		Help: "TCP connections reset at once because the server had its maximum open.",
	})
	m.queryLogSuppressed = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "query_log_suppressed_total",
		Help: "Sampled queries not logged because the query log was at its rate limit.",
	})
	udpErrors := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "udp_errors_total",
		Help: "UDP socket errors, by operation (read, write): an ICMP error for a resolver's port reported on a read, a full send buffer; each write error loses one answer.",
	}, []string{"op"})
	m.udpReadErrors = udpErrors.WithLabelValues("read")
	m.udpWriteErrors = udpErrors.WithLabelValues("write")
	if reg != nil {
		for _, c := range []prometheus.Collector{m.queries, hist, m.decisions, m.fallback, m.truncated, m.panics, m.ecs,
			dropped, slipped, m.tcpConns, m.tcpRejected, m.queryLogSuppressed, udpErrors} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	m.none = m.zoneCounters(labelNone)
	return m, nil
}

// zoneCounters returns the cache of queries_total children for a zone,
// creating it on first use. Called when compiling, not per query.
func (m *metrics) zoneCounters(zone string) *zoneCounters {
	m.mu.Lock()
	defer m.mu.Unlock()
	zc := m.zones[zone]
	if zc == nil {
		zc = &zoneCounters{vec: m.queries, zone: zone, cells: make([]atomic.Pointer[prometheus.Counter], nQtypes*nRcodes*2)}
		m.zones[zone] = zc
	}
	return zc
}

// forget drops the series of zones and services that left the
// configuration, so a deleted zone does not haunt dashboards forever.
func (m *metrics) forget(zones, services []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, z := range zones {
		delete(m.zones, z)
		m.queries.DeletePartialMatch(prometheus.Labels{"zone": z})
	}
	for _, s := range services {
		m.decisions.DeletePartialMatch(prometheus.Labels{"service": s})
		m.fallback.DeleteLabelValues(s)
	}
}

// zoneCounters caches the queries_total children of one zone, resolved on
// first use of each (qtype, rcode, proto) so that only combinations that
// happen are exported.
type zoneCounters struct {
	vec   *prometheus.CounterVec
	zone  string
	cells []atomic.Pointer[prometheus.Counter]
}

func (zc *zoneCounters) inc(qtype uint16, rcode int, proto string) {
	qi, ri, pi := qtypeIndex(qtype), rcodeIndex(rcode), protoIndex(proto)
	cell := &zc.cells[(qi*nRcodes+ri)*2+pi]
	c := cell.Load()
	if c == nil {
		child := zc.vec.WithLabelValues(zc.zone, qtypeLabel(qi), rcodeLabel(ri), []string{protoUDP, protoTCP}[pi])
		cell.CompareAndSwap(nil, &child)
		c = cell.Load()
	}
	(*c).Inc()
}
