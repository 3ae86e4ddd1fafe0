package dnsserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/gslb"
)

// DefaultQueryLogRate caps the query log at this many lines per second,
// whatever the sample rate: a flood must not turn into a flood of log
// lines (and disk, and log shipping). 100 lines/s is plenty to see what
// a server is asked; the rest are counted in
// meridian_dns_query_log_suppressed_total.
const DefaultQueryLogRate = 100

// QueryLogOptions configure the query log: one structured line (level
// info, message "query") per sampled query, through Options.Logger.
type QueryLogOptions struct {
	// Sample is the fraction of queries logged, 0 to 1. 0 (the default)
	// turns the query log off.
	Sample float64
	// Rate caps the lines per second (a fixed one-second window); lines
	// past it are counted, not logged. Default DefaultQueryLogRate.
	Rate int
}

func (o QueryLogOptions) withDefaults() (QueryLogOptions, error) {
	if o.Rate == 0 {
		o.Rate = DefaultQueryLogRate
	}
	var errs []error
	if !(o.Sample >= 0 && o.Sample <= 1) {
		errs = append(errs, fmt.Errorf("dnsserver: Options.QueryLog.Sample %v out of range 0..1", o.Sample))
	}
	if o.Rate < 0 {
		errs = append(errs, fmt.Errorf("dnsserver: Options.QueryLog.Rate %d is negative", o.Rate))
	}
	return o, errors.Join(errs...)
}

// queryLog samples and rate-limits the query log. The per-query cost when
// a query is not sampled is one random number.
type queryLog struct {
	log    *slog.Logger
	sample float64
	rate   uint64
	// window is the current second (high 32 bits) and the lines logged in
	// it (low 32 bits), updated with compare-and-swap.
	window atomic.Uint64
	// v4 and v6 are the prefixes client addresses are cut to.
	v4, v6 int
	ecs    ECSOptions
	m      *metrics
}

func newQueryLog(o QueryLogOptions, log *slog.Logger, rrl RRLOptions, ecs ECSOptions, m *metrics) *queryLog {
	if o.Sample == 0 {
		return nil
	}
	return &queryLog{log: log, sample: o.Sample, rate: uint64(o.Rate), v4: rrl.PrefixV4, v6: rrl.PrefixV6, ecs: ecs, m: m}
}

// take decides whether the query answered at now is logged: sampled, and
// within the rate.
func (q *queryLog) take(now time.Time) bool {
	if q.sample < 1 && rand.Float64() >= q.sample {
		return false
	}
	sec := uint64(now.Unix()) & (1<<32 - 1)
	for {
		old := q.window.Load()
		next := sec<<32 | 1
		if old>>32 == sec {
			if old&(1<<32-1) >= q.rate {
				q.m.queryLogSuppressed.Inc()
				return false
			}
			next = old + 1
		}
		if q.window.CompareAndSwap(old, next) {
			return true
		}
	}
}

// queryLine is what one log line says, captured from the answer before
// RRL may empty it.
type queryLine struct {
	client, ecs  string
	qname, qtype string
	rcode        string
	region       string
	scope        int
	proto        string
}

// capture reads the line's fields from the request and the answer. It
// runs only for sampled queries and may allocate.
func (q *queryLog) capture(s *Server, req, m *dns.Msg, remote netip.Addr, proto string) queryLine {
	l := queryLine{rcode: rcodeLabel(rcodeIndex(m.Rcode)), proto: proto}
	remote = remote.Unmap()
	if q.log.Enabled(context.Background(), slog.LevelDebug) {
		l.client = remote.String()
	} else {
		l.client = q.prefix(remote, q.v4, q.v6)
	}
	if len(req.Question) == 1 {
		l.qname = req.Question[0].Name
		l.qtype = dns.Type(req.Question[0].Qtype).String()
	}
	if opt := req.IsEdns0(); opt != nil && !q.ecs.Disabled {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_SUBNET); ok {
				if a, ok := netip.AddrFromSlice(e.Address); ok {
					l.ecs = q.prefix(a.Unmap(), min(int(e.SourceNetmask), q.ecs.MaxSourceV4), min(int(e.SourceNetmask), q.ecs.MaxSourceV6))
				}
				break
			}
		}
	}
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_SUBNET); ok {
				l.scope = int(e.SourceScope)
			}
		}
	}
	if c := s.cur.Load(); c != nil {
		l.region = regionOf(c.snap, m)
	}
	return l
}

func (q *queryLog) prefix(a netip.Addr, v4, v6 int) string {
	bits := v6
	if a.Is4() {
		bits = v4
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

// emit writes the line.
func (q *queryLog) emit(l *queryLine, took time.Duration, a rrlAction) {
	attrs := make([]slog.Attr, 0, 11)
	attrs = append(attrs,
		slog.String("client", l.client),
		slog.String("qname", l.qname),
		slog.String("qtype", l.qtype),
		slog.String("rcode", l.rcode),
		slog.String("proto", l.proto),
		slog.Duration("duration", took))
	if l.ecs != "" {
		attrs = append(attrs, slog.String("ecs", l.ecs), slog.Int("scope", l.scope))
	}
	if l.region != "" {
		attrs = append(attrs, slog.String("region", l.region))
	}
	if a != rrlSend {
		attrs = append(attrs, slog.String("rrl", a.String()))
	}
	q.log.LogAttrs(context.Background(), slog.LevelInfo, "query", attrs...)
}

// regionOf names the region a steered answer came from: Steer answers the
// addresses of the region it chose, so the region whose proxies include
// the last A or AAAA record of the answer, when that record's owner is a
// service. "" for anything else (static records, NODATA, errors).
func regionOf(snap *gslb.Snapshot, m *dns.Msg) string {
	for i := len(m.Answer) - 1; i >= 0; i-- {
		var a netip.Addr
		switch rr := m.Answer[i].(type) {
		case *dns.A:
			a, _ = netip.AddrFromSlice(rr.A.To4())
		case *dns.AAAA:
			a, _ = netip.AddrFromSlice(rr.AAAA)
		default:
			continue
		}
		if snap.Service(m.Answer[i].Header().Name) == nil {
			return ""
		}
		for _, name := range snap.Regions() {
			if r := snap.Region(name); r != nil && slices.Contains(r.Proxies, a) {
				return name
			}
		}
		return ""
	}
	return ""
}
