package dnsserver

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/meridian-gslb/meridian/gslb"
)

func TestMetrics(t *testing.T) {
	ts := newTestServer(t, nil)
	addr := ts.serve(t)
	for _, proto := range protos {
		for _, tc := range []Case{
			{Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "192.0.2.0/24"},
			{Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "203.0.113.0/24"},
			{Qname: "v4only.gslb.example.", Qtype: dns.TypeAAAA, ECS: "203.0.113.0/24"},
			{Qname: "nope.gslb.example.", Qtype: dns.TypeA},
			{Qname: "example.com.", Qtype: dns.TypeA},
			{Qname: "big.gslb.example.", Qtype: dns.TypeTXT},
			{Qname: "gslb.example.", Qtype: dns.TypeNAPTR + 1000},
		} {
			exchange(t, proto, addr, tc.Msg())
		}
	}

	want := `
# HELP meridian_dns_decisions_total Steering decisions for A, AAAA and ANY queries at service names, by service and chosen region ("none" when no region was answered).
# TYPE meridian_dns_decisions_total counter
meridian_dns_decisions_total{region="ap-southeast",service="v4only.gslb.example."} 0
meridian_dns_decisions_total{region="ap-southeast",service="www.gslb.example."} 2
meridian_dns_decisions_total{region="eu-west",service="app.gslb.example."} 0
meridian_dns_decisions_total{region="eu-west",service="www.gslb.example."} 2
meridian_dns_decisions_total{region="eu-west",service="x.y.gslb.example."} 0
meridian_dns_decisions_total{region="none",service="app.gslb.example."} 0
meridian_dns_decisions_total{region="none",service="v4only.gslb.example."} 2
meridian_dns_decisions_total{region="none",service="www.gslb.example."} 0
meridian_dns_decisions_total{region="none",service="x.y.gslb.example."} 0
meridian_dns_decisions_total{region="us-east",service="app.gslb.example."} 0
meridian_dns_decisions_total{region="us-east",service="v4only.gslb.example."} 0
meridian_dns_decisions_total{region="us-east",service="www.gslb.example."} 0
# HELP meridian_dns_fallback_total Steering decisions made by the service's fallback because no region was eligible.
# TYPE meridian_dns_fallback_total counter
meridian_dns_fallback_total{service="app.gslb.example."} 0
meridian_dns_fallback_total{service="v4only.gslb.example."} 2
meridian_dns_fallback_total{service="www.gslb.example."} 0
meridian_dns_fallback_total{service="x.y.gslb.example."} 0
# HELP meridian_dns_queries_total DNS queries answered, by zone ("none" outside every zone), query type ("other" outside a fixed list), response code and transport.
# TYPE meridian_dns_queries_total counter
meridian_dns_queries_total{proto="tcp",qtype="A",rcode="NOERROR",zone="gslb.example."} 2
meridian_dns_queries_total{proto="tcp",qtype="A",rcode="NXDOMAIN",zone="gslb.example."} 1
meridian_dns_queries_total{proto="tcp",qtype="A",rcode="REFUSED",zone="none"} 1
meridian_dns_queries_total{proto="tcp",qtype="AAAA",rcode="NOERROR",zone="gslb.example."} 1
meridian_dns_queries_total{proto="tcp",qtype="TXT",rcode="NOERROR",zone="gslb.example."} 1
meridian_dns_queries_total{proto="tcp",qtype="other",rcode="NOERROR",zone="gslb.example."} 1
meridian_dns_queries_total{proto="udp",qtype="A",rcode="NOERROR",zone="gslb.example."} 2
meridian_dns_queries_total{proto="udp",qtype="A",rcode="NXDOMAIN",zone="gslb.example."} 1
meridian_dns_queries_total{proto="udp",qtype="A",rcode="REFUSED",zone="none"} 1
meridian_dns_queries_total{proto="udp",qtype="AAAA",rcode="NOERROR",zone="gslb.example."} 1
meridian_dns_queries_total{proto="udp",qtype="TXT",rcode="NOERROR",zone="gslb.example."} 1
meridian_dns_queries_total{proto="udp",qtype="other",rcode="NOERROR",zone="gslb.example."} 1
# TYPE meridian_dns_truncated_total counter
meridian_dns_truncated_total 1
# HELP meridian_dns_ecs_queries_total Queries carrying a valid EDNS Client Subnet option.
# TYPE meridian_dns_ecs_queries_total counter
meridian_dns_ecs_queries_total 6
# HELP meridian_dns_panics_total Panics recovered while answering a query (each answered SERVFAIL).
# TYPE meridian_dns_panics_total counter
meridian_dns_panics_total 0
`
	var wantLines []string
	for l := range strings.SplitSeq(strings.TrimSpace(want), "\n") {
		if !strings.HasPrefix(l, "#") {
			wantLines = append(wantLines, l)
		}
	}
	got := samples(t, ts.reg, "meridian_dns_decisions_total", "meridian_dns_fallback_total", "meridian_dns_queries_total",
		"meridian_dns_truncated_total", "meridian_dns_ecs_queries_total", "meridian_dns_panics_total")
	if diff := cmp.Diff(wantLines, got); diff != "" {
		t.Errorf("metrics mismatch (-want +got):\n%s", diff)
	}
	if n := seriesCount(t, ts.reg, "meridian_dns_query_duration_seconds"); n != 2 {
		t.Errorf("query_duration_seconds has %d series, want 2 (udp, tcp)", n)
	}
	for _, p := range gatherAndLint(t, ts.reg) {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// The helpers below stand in for prometheus/testutil, whose diff
// dependency (github.com/kylelemons/godebug) is not in go.sum;
// gatherAndLint is what testutil.GatherAndLint does.

func gatherAndLint(t *testing.T, reg *prometheus.Registry) []promlint.Problem {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatalf("Lint: %v", err)
	}
	return problems
}

// samples returns the series of the named families as exposition lines,
// `name{label="value",...} value`, in the order Gather sorts them.
func samples(t *testing.T, reg *prometheus.Registry, names ...string) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	var out []string
	for _, name := range names {
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.GetMetric() {
				var labels []string
				for _, l := range m.GetLabel() {
					labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
				}
				series := name
				if len(labels) > 0 {
					series += "{" + strings.Join(labels, ",") + "}"
				}
				out = append(out, fmt.Sprintf("%s %v", series, metricValue(m)))
			}
		}
	}
	return out
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return 0
}

func seriesCount(t *testing.T, reg *prometheus.Registry, name string) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestMetricsForget checks that a zone or service leaving the
// configuration takes its series with it.
func TestMetricsForget(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.Resolve(new(dns.Msg).SetQuestion("www.gslb.example.", dns.TypeA), netip.AddrPort{}, "udp")
	keys := testKeys()
	delete(keys, "services/app.gslb.example.")
	ts.snap.Store(buildSnapshot(t, keys, 43))
	ts.Resolve(new(dns.Msg).SetQuestion("www.gslb.example.", dns.TypeA), netip.AddrPort{}, "udp")
	if n := seriesCount(t, ts.reg, "meridian_dns_fallback_total"); n != 3 {
		t.Errorf("fallback_total has %d series after removing a service, want 3", n)
	}

	keys = map[string]string{
		"zones/other.example.": `{"nameservers":[{"name":"ns.gslb.example."}]}`,
	}
	ts.snap.Store(buildSnapshot(t, keys, 44))
	ts.Resolve(new(dns.Msg).SetQuestion("www.gslb.example.", dns.TypeA), netip.AddrPort{}, "udp")
	if n := seriesCount(t, ts.reg, "meridian_dns_queries_total"); n != 1 {
		t.Errorf("queries_total has %d series after removing the zone, want 1 (zone none)", n)
	}
}

func TestPanic(t *testing.T) {
	ts := newTestServer(t, nil)
	boom := func() *gslb.Snapshot { panic("boom") }
	if _, err := New(Options{Registerer: ts.reg, Snapshot: boom}); err == nil {
		t.Fatal("New registered the metrics twice on one registry")
	}
	reg := prometheus.NewRegistry()
	s, err := New(Options{Registerer: reg, Snapshot: boom})
	if err != nil {
		t.Fatal(err)
	}
	ts = &testServer{Server: s, reg: reg}
	addr := ts.serve(t)
	for _, proto := range protos {
		for range 2 {
			tc := Case{Qname: "www.gslb.example.", Qtype: dns.TypeA, EDNS: true, Rcode: dns.RcodeServerFailure, NotAuthoritative: true}
			req := tc.Msg()
			tc.Check(t, req, exchange(t, proto, addr, req))
		}
	}
	if got := counterValue(t, s.m.panics); got != 4 {
		t.Errorf("panics_total = %v, want 4", got)
	}
	if got := counterValue(t, s.m.queries.WithLabelValues("none", "A", "SERVFAIL", "udp")); got != 2 {
		t.Errorf("queries_total SERVFAIL udp = %v, want 2", got)
	}
	if n := len(s.panicSeen); n != 1 {
		t.Errorf("%d distinct panics remembered, want 1", n)
	}
}
