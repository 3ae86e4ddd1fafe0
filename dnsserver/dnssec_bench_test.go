package dnsserver

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// BenchmarkResolveSigned is BenchmarkResolve with DO on a signed zone:
// the steered A and its cached RRSIG (the cache-hit path: hash the RRset,
// find the entry).
func BenchmarkResolveSigned(b *testing.B) {
	ss := newSignedServer(b, nil, "gslb.example.")
	req := doMsg("www.gslb.example.", dns.TypeA, "198.51.100.0/24")
	remote := netip.MustParseAddrPort("192.0.2.7:5300")
	buf := make([]byte, 0, 4096)
	ss.Resolve(req, remote, "udp") // fill the cache
	b.ReportAllocs()
	for b.Loop() {
		m := ss.Resolve(req, remote, "udp")
		out, err := m.PackBuffer(buf[:cap(buf)])
		if err != nil || len(m.Answer) != 2 {
			b.Fatal(err, m)
		}
		buf = out[:0]
	}
}

// BenchmarkResolveSignedNegative is a repeated black lie: SOA and NSEC,
// both signatures cached.
func BenchmarkResolveSignedNegative(b *testing.B) {
	ss := newSignedServer(b, nil, "gslb.example.")
	req := doMsg("nope.gslb.example.", dns.TypeA, "")
	remote := netip.MustParseAddrPort("192.0.2.7:5300")
	ss.Resolve(req, remote, "udp")
	b.ReportAllocs()
	for b.Loop() {
		if m := ss.Resolve(req, remote, "udp"); len(m.Ns) != 4 {
			b.Fatal(m)
		}
	}
}

// BenchmarkResolveSignMiss is the cost of a signature made on the query
// path: a new name per query (a random-subdomain flood), so each black lie
// needs a fresh NSEC signature (the SOA's is cached). This is what a DO
// query costs when the cache cannot help.
func BenchmarkResolveSignMiss(b *testing.B) {
	ss := newSignedServer(b, nil, "gslb.example.")
	remote := netip.MustParseAddrPort("192.0.2.7:5300")
	reqs := make([]*dns.Msg, 4096)
	for i := range reqs {
		reqs[i] = doMsg(fmt.Sprintf("r%d.gslb.example.", i), dns.TypeA, "")
	}
	ss.Resolve(reqs[0], remote, "udp")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		req := reqs[i%len(reqs)]
		req.Question[0].Name = fmt.Sprintf("r%d.gslb.example.", i)
		i++
		if m := ss.Resolve(req, remote, "udp"); len(m.Ns) != 4 {
			b.Fatal(m)
		}
	}
}

// BenchmarkSign is one RRset signed with one P-256 key, without the
// query around it.
func BenchmarkSign(b *testing.B) {
	ss := newSignedServer(b, nil, "gslb.example.")
	z := ss.cur.Load()
	if z == nil {
		ss.Resolve(doMsg("www.gslb.example.", dns.TypeA, ""), netip.AddrPort{}, "udp")
		z = ss.cur.Load()
	}
	zone := z.zones["gslb.example."]
	rr, _ := dns.NewRR("www.gslb.example. 20 IN A 127.0.0.12")
	set := []dns.RR{rr}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ss.dnssec.sign(zone, set, ss.dnssec.now()); err != nil {
			b.Fatal(err)
		}
	}
}
