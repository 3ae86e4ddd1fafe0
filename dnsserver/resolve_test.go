package dnsserver

import (
	"net"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/gslb"
)

const (
	soaNeg = "gslb.example. 30 IN SOA ns1.gslb.example. hostmaster.gslb.example. 42 3600 900 1209600 30"
	soa    = "gslb.example. 3600 IN SOA ns1.gslb.example. hostmaster.gslb.example. 42 3600 900 1209600 30"
	wwwEU  = "www.gslb.example. 20 IN A 127.0.0.11"
	wwwNA  = "www.gslb.example. 20 IN A 127.0.0.12"
	wwwAS  = "www.gslb.example. 20 IN A 127.0.0.13"
)

var glue = []string{
	"ns1.gslb.example. 3600 IN A 192.0.2.53",
	"ns1.gslb.example. 3600 IN AAAA 2001:db8::53",
	"ns2.gslb.example. 3600 IN A 198.51.100.53",
}

// cases runs over Resolve and, unless SkipWire, over UDP and TCP.
var cases = []Case{
	// Steering by ECS: each documentation range goes to its region, and
	// the scope is the /24 of the operator network that placed it.
	{Name: "ECS EU", Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "192.0.2.0/24", Answer: []string{wwwEU}, Scope: 24},
	{Name: "ECS NA", Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "198.51.100.0/24", Answer: []string{wwwNA}, Scope: 24},
	{Name: "ECS AS", Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "203.0.113.0/24", Answer: []string{wwwAS}, Scope: 24},
	// A /32 is clipped to /24 for location; the echo keeps what was sent.
	{Name: "ECS /32 clipped", Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "192.0.2.77/32", Answer: []string{wwwEU}, Scope: 24},
	// A /16 around a /24 network: the answer holds for the /24 only.
	// 203.0.0.0 is in no operator network (and there is no mmdb): the
	// answer holds for 203.0.0.0/18, the widest block around it without
	// one; the /24 at 203.0.113.0 steers elsewhere.
	{Name: "ECS shorter than network", Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "203.0.0.0/16", Answer: []string{wwwEU}, Scope: 18},
	{Name: "ECS AAAA EU", Qname: "www.gslb.example.", Qtype: dns.TypeAAAA, ECS: "192.0.2.0/24",
		Answer: []string{"www.gslb.example. 20 IN AAAA 2001:db8::11"}, Scope: 24},
	// Eligibility is per family: us-east has no IPv6 proxy, so AAAA for
	// North America comes from the nearest region that has one.
	{Name: "ECS AAAA NA", Qname: "www.gslb.example.", Qtype: dns.TypeAAAA, ECS: "198.51.100.0/24",
		Answer: []string{"www.gslb.example. 20 IN AAAA 2001:db8::11"}, Scope: 24},
	// No region of v4only has IPv6: NODATA, still a located decision.
	{Name: "steered NODATA", Qname: "v4only.gslb.example.", Qtype: dns.TypeAAAA, ECS: "198.51.100.0/24", Ns: []string{soaNeg}, Scope: 24},
	{Name: "steered ANY", Qname: "v4only.gslb.example.", Qtype: dns.TypeANY, ECS: "198.51.100.0/24",
		Answer: []string{"v4only.gslb.example. 30 IN A 127.0.0.12"}, Scope: 24},
	// Failover does not depend on the client: scope 0.
	{Name: "failover", Qname: "app.gslb.example.", Qtype: dns.TypeA, ECS: "203.0.113.0/24", Answer: []string{"app.gslb.example. 10 IN A 127.0.0.12"}, Scope: 0},
	// Without ECS the resolver's address decides.
	{Name: "resolver located", Qname: "www.gslb.example.", Qtype: dns.TypeA, Remote: "203.0.113.9", Answer: []string{wwwAS}, SkipWire: true},
	{Name: "resolver located EDNS", Qname: "www.gslb.example.", Qtype: dns.TypeA, EDNS: true, Remote: "198.51.100.9", Answer: []string{wwwNA}, SkipWire: true},
	// Source prefix 0: "don't use my address": the resolver's decides, scope 0.
	{Name: "ECS source 0", Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "0.0.0.0/0", Remote: "203.0.113.9", Answer: []string{wwwAS}, Scope: 0, SkipWire: true},
	{Name: "ECS IPv6 unknown", Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "2001:db8:1234::/48", Answer: []string{wwwEU}, Scope: 48},
	// Unlocated client: first region in order.
	{Name: "unlocated", Qname: "www.gslb.example.", Qtype: dns.TypeA, Answer: []string{wwwEU}},

	// Static data and static records next to a service.
	{Name: "TXT at service", Qname: "www.gslb.example.", Qtype: dns.TypeTXT, ECS: "192.0.2.0/24", Answer: []string{`www.gslb.example. 300 IN TXT "steered"`}},
	{Name: "MX at service NODATA", Qname: "www.gslb.example.", Qtype: dns.TypeMX, ECS: "192.0.2.0/24", Ns: []string{soaNeg}},
	{Qname: "gslb.example.", Qtype: dns.TypeMX, Answer: []string{"gslb.example. 3600 IN MX 10 mail.gslb.example."}},
	{Qname: "gslb.example.", Qtype: dns.TypeTXT, Answer: []string{`gslb.example. 3600 IN TXT "v=spf1 mx -all"`}},
	{Qname: "gslb.example.", Qtype: dns.TypeCAA, Answer: []string{`gslb.example. 3600 IN CAA 0 issue "letsencrypt.org"`}},
	{Qname: "mail.gslb.example.", Qtype: dns.TypeA, Answer: []string{"mail.gslb.example. 300 IN A 192.0.2.25"}},
	{Qname: "_dmarc.gslb.example.", Qtype: dns.TypeTXT, Answer: []string{`_dmarc.gslb.example. 300 IN TXT "v=DMARC1; p=reject"`}},
	{Qname: "a.b.gslb.example.", Qtype: dns.TypeTXT, Answer: []string{`a.b.gslb.example. 300 IN TXT "deep"`}},

	// Apex.
	{Qname: "gslb.example.", Qtype: dns.TypeSOA, Answer: []string{soa}},
	{Qname: "gslb.example.", Qtype: dns.TypeNS, Answer: []string{"gslb.example. 3600 IN NS ns1.gslb.example.", "gslb.example. 3600 IN NS ns2.gslb.example."}, Extra: glue},
	{Qname: "gslb.example.", Qtype: dns.TypeA, Ns: []string{soaNeg}},
	{Qname: "ns1.gslb.example.", Qtype: dns.TypeA, Answer: []string{"ns1.gslb.example. 3600 IN A 192.0.2.53"}},
	{Qname: "ns1.gslb.example.", Qtype: dns.TypeAAAA, Answer: []string{"ns1.gslb.example. 3600 IN AAAA 2001:db8::53"}},
	{Qname: "ns2.gslb.example.", Qtype: dns.TypeAAAA, Ns: []string{soaNeg}},

	// Negative answers: exactly one SOA, TTL min(SOA TTL, minimum).
	{Name: "NXDOMAIN", Qname: "nope.gslb.example.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []string{soaNeg}},
	{Name: "NXDOMAIN below service", Qname: "deeper.www.gslb.example.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []string{soaNeg}},
	{Name: "NXDOMAIN ECS scope 0", Qname: "nope.gslb.example.", Qtype: dns.TypeA, ECS: "192.0.2.0/24", Rcode: dns.RcodeNameError, Ns: []string{soaNeg}},
	{Name: "ENT static", Qname: "b.gslb.example.", Qtype: dns.TypeA, Ns: []string{soaNeg}},
	{Name: "ENT service", Qname: "y.gslb.example.", Qtype: dns.TypeA, Ns: []string{soaNeg}},
	{Name: "ENT wildcard parent", Qname: "wild.gslb.example.", Qtype: dns.TypeA, Ns: []string{soaNeg}},

	// Outside every zone: REFUSED, not authoritative, no referral.
	{Name: "REFUSED", Qname: "example.com.", Qtype: dns.TypeA, Rcode: dns.RcodeRefused},
	{Name: "REFUSED root", Qname: ".", Qtype: dns.TypeNS, Rcode: dns.RcodeRefused},
	{Name: "REFUSED parent", Qname: "example.", Qtype: dns.TypeSOA, Rcode: dns.RcodeRefused},
	{Name: "REFUSED suffix lookalike", Qname: "xgslb.example.", Qtype: dns.TypeA, Rcode: dns.RcodeRefused},

	// Case-insensitive, question case kept (0x20).
	{Name: "0x20", Qname: "WwW.GsLb.ExAmPlE.", Qtype: dns.TypeA, ECS: "198.51.100.0/24", Answer: []string{wwwNA}, Scope: 24},
	{Name: "0x20 static", Qname: "MAIL.gslb.EXAMPLE.", Qtype: dns.TypeA, Answer: []string{"mail.gslb.example. 300 IN A 192.0.2.25"}},

	// CNAMEs: followed inside the zone, to a steered name too.
	{Name: "CNAME to service", Qname: "alias.gslb.example.", Qtype: dns.TypeA, ECS: "203.0.113.0/24",
		Answer: []string{"alias.gslb.example. 60 IN CNAME www.gslb.example.", wwwAS}, Ordered: true, Scope: 24},
	{Name: "CNAME query", Qname: "alias.gslb.example.", Qtype: dns.TypeCNAME, Answer: []string{"alias.gslb.example. 60 IN CNAME www.gslb.example."}},
	{Name: "CNAME out of zone", Qname: "docs.gslb.example.", Qtype: dns.TypeA, Answer: []string{"docs.gslb.example. 300 IN CNAME docs.example.net."}},
	// RFC 6604: the rcode is that of the last name in the chain.
	{Name: "CNAME to NXDOMAIN", Qname: "gone.gslb.example.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError,
		Answer: []string{"gone.gslb.example. 300 IN CNAME nothing-here.gslb.example."}, Ns: []string{soaNeg}},

	// Wildcards (RFC 4592).
	{Name: "wildcard", Qname: "foo.wild.gslb.example.", Qtype: dns.TypeA, Answer: []string{"foo.wild.gslb.example. 300 IN A 192.0.2.80"}},
	{Name: "wildcard deep", Qname: "a.b.wild.gslb.example.", Qtype: dns.TypeA, Answer: []string{"a.b.wild.gslb.example. 300 IN A 192.0.2.80"}},
	{Name: "wildcard NODATA", Qname: "foo.wild.gslb.example.", Qtype: dns.TypeMX, Ns: []string{soaNeg}},

	// ANY: minimal (RFC 8482).
	{Name: "ANY service", Qname: "www.gslb.example.", Qtype: dns.TypeANY, ECS: "192.0.2.0/24", Answer: []string{wwwEU}, Scope: 24},
	{Name: "ANY apex", Qname: "gslb.example.", Qtype: dns.TypeANY, Answer: []string{`gslb.example. 3600 IN HINFO "RFC8482" ""`}},
	{Name: "ANY static A", Qname: "mail.gslb.example.", Qtype: dns.TypeANY, Answer: []string{"mail.gslb.example. 300 IN A 192.0.2.25"}},
	{Name: "ANY TXT only", Qname: "_dmarc.gslb.example.", Qtype: dns.TypeANY, Answer: []string{`_dmarc.gslb.example. 3600 IN HINFO "RFC8482" ""`}},
	{Name: "ANY big", Qname: "big.gslb.example.", Qtype: dns.TypeANY, Answer: []string{`big.gslb.example. 3600 IN HINFO "RFC8482" ""`}},
	{Name: "ANY ENT", Qname: "b.gslb.example.", Qtype: dns.TypeANY, Ns: []string{soaNeg}},
	{Name: "ANY NXDOMAIN", Qname: "nope.gslb.example.", Qtype: dns.TypeANY, Rcode: dns.RcodeNameError, Ns: []string{soaNeg}},
	{Name: "qclass ANY", Qname: "mail.gslb.example.", Qtype: dns.TypeA, Qclass: dns.ClassANY, Answer: []string{"mail.gslb.example. 300 IN A 192.0.2.25"}},

	// Refusals and errors.
	{Name: "AXFR", Qname: "gslb.example.", Qtype: dns.TypeAXFR, Rcode: dns.RcodeRefused, SkipWire: true},
	{Name: "class CH other", Qname: "version.bind.", Qtype: dns.TypeTXT, Qclass: dns.ClassCHAOS, Rcode: dns.RcodeRefused},
	{Name: "class HS", Qname: "www.gslb.example.", Qtype: dns.TypeA, Qclass: dns.ClassHESIOD, Rcode: dns.RcodeRefused},
	{Name: "CH id.server without NSID", Qname: "id.server.", Qtype: dns.TypeTXT, Qclass: dns.ClassCHAOS, Rcode: dns.RcodeRefused},
	{Name: "BADVERS", Qname: "www.gslb.example.", Qtype: dns.TypeA, EDNS: true, Rcode: dns.RcodeBadVers, NotAuthoritative: true,
		mutate: func(m *dns.Msg) { m.IsEdns0().SetVersion(1) }},
	{Name: "BADVERS beats ECS", Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "192.0.2.0/24", NoECSEcho: true, Rcode: dns.RcodeBadVers,
		mutate: func(m *dns.Msg) { m.IsEdns0().SetVersion(1) }},
	{Name: "NOTIMP notify", Qname: "gslb.example.", Qtype: dns.TypeSOA, Rcode: dns.RcodeNotImplemented,
		mutate: func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }},
	{Name: "NOTIMP status", Qname: "gslb.example.", Qtype: dns.TypeSOA, EDNS: true, Rcode: dns.RcodeNotImplemented,
		mutate: func(m *dns.Msg) { m.Opcode = dns.OpcodeStatus }},
	{Name: "OPT qtype", Qname: "gslb.example.", Qtype: dns.TypeOPT, Rcode: dns.RcodeFormatError},
	{Name: "DO copied", Qname: "mail.gslb.example.", Qtype: dns.TypeA, EDNS: true, Answer: []string{"mail.gslb.example. 300 IN A 192.0.2.25"},
		mutate: func(m *dns.Msg) { m.IsEdns0().SetDo() }},
	{Name: "unknown EDNS option ignored", Qname: "mail.gslb.example.", Qtype: dns.TypeA, EDNS: true, Answer: []string{"mail.gslb.example. 300 IN A 192.0.2.25"},
		mutate: func(m *dns.Msg) {
			o := m.IsEdns0()
			o.Option = append(o.Option, &dns.EDNS0_LOCAL{Code: 65001, Data: []byte{1, 2}})
		}},
	{Name: "NSID not set", Qname: "mail.gslb.example.", Qtype: dns.TypeA, NSID: true, Answer: []string{"mail.gslb.example. 300 IN A 192.0.2.25"}},

	// Malformed ECS (RFC 7871 §6): FORMERR, no echo. Resolve only: the
	// client library masks the address when it packs the option.
	{Name: "ECS bits beyond prefix", Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "192.0.2.1/24", NoECSEcho: true,
		Rcode: dns.RcodeFormatError, SkipWire: true},
	{Name: "ECS family 3", Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "192.0.2.0/24", NoECSEcho: true, Rcode: dns.RcodeFormatError, SkipWire: true,
		mutate: func(m *dns.Msg) { ecsOf(m).Family = 3 }},
	{Name: "ECS source 33", Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "192.0.2.0/24", NoECSEcho: true, Rcode: dns.RcodeFormatError, SkipWire: true,
		mutate: func(m *dns.Msg) { ecsOf(m).SourceNetmask = 33 }},
	{Name: "ECS v6 address family 1", Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "192.0.2.0/24", NoECSEcho: true, Rcode: dns.RcodeFormatError, SkipWire: true,
		mutate: func(m *dns.Msg) { ecsOf(m).Address = net.ParseIP("2001:db8::1") }},
	{Name: "ECS twice", Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "192.0.2.0/24", NoECSEcho: true, Rcode: dns.RcodeFormatError,
		mutate: func(m *dns.Msg) {
			o := m.IsEdns0()
			o.Option = append(o.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.IPv4(198, 51, 100, 0)})
		}},
	// A non-zero scope in a query is tolerated (RFC 7871 says it MUST be
	// 0, not that the server must refuse it).
	{Name: "ECS query scope", Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "192.0.2.0/24", Answer: []string{wwwEU}, Scope: 24,
		mutate: func(m *dns.Msg) { ecsOf(m).SourceScope = 12 }},
	{Name: "two OPT", Qname: "www.gslb.example.", Qtype: dns.TypeA, EDNS: true, Rcode: dns.RcodeFormatError, SkipWire: true,
		mutate: func(m *dns.Msg) { m.Extra = append(m.Extra, dns.Copy(m.Extra[0])) }},
	{Name: "no question", Qname: "www.gslb.example.", Qtype: dns.TypeA, Rcode: dns.RcodeFormatError, SkipWire: true,
		mutate: func(m *dns.Msg) { m.Question = nil }},
	{Name: "two questions", Qname: "www.gslb.example.", Qtype: dns.TypeA, Rcode: dns.RcodeFormatError, SkipWire: true,
		mutate: func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) }},

	// Size: UDP truncates (TC) what does not fit, TCP carries it all.
	{Name: "big no EDNS", Qname: "big.gslb.example.", Qtype: dns.TypeTXT, Truncated: true, AnswerCount: 5},
	{Name: "big EDNS 512", Qname: "big.gslb.example.", Qtype: dns.TypeTXT, udpSize: 512, Truncated: true, AnswerCount: 5},
	{Name: "big EDNS 4096", Qname: "big.gslb.example.", Qtype: dns.TypeTXT, udpSize: 4096, Truncated: true, AnswerCount: 14},
}

func ecsOf(m *dns.Msg) *dns.EDNS0_SUBNET {
	for _, o := range m.IsEdns0().Option {
		if e, ok := o.(*dns.EDNS0_SUBNET); ok {
			return e
		}
	}
	panic("no ECS option")
}

func TestResolve(t *testing.T) {
	ts := newTestServer(t, nil)
	for _, tc := range cases {
		t.Run(tc.name(), func(t *testing.T) {
			req := tc.Msg()
			tc.Check(t, req, ts.Resolve(req, tc.remote(), "udp"))
		})
	}
}

// TestResolveTCP runs the size cases over TCP: everything fits.
func TestResolveTCP(t *testing.T) {
	ts := newTestServer(t, nil)
	for _, tc := range cases {
		if !tc.Truncated {
			continue
		}
		t.Run(tc.name(), func(t *testing.T) {
			tc.Truncated, tc.AnswerCount = false, bigTXT
			req := tc.Msg()
			tc.Check(t, req, ts.Resolve(req, tc.remote(), "tcp"))
		})
	}
}

func TestWire(t *testing.T) {
	ts := newTestServer(t, nil)
	addr := ts.serve(t)
	for _, proto := range protos {
		for _, tc := range cases {
			if tc.SkipWire {
				continue
			}
			t.Run(proto+"/"+tc.name(), func(t *testing.T) {
				if proto == "tcp" && tc.Truncated {
					tc.Truncated, tc.AnswerCount = false, bigTXT
				}
				req := tc.Msg()
				tc.Check(t, req, exchange(t, proto, addr, req))
			})
		}
	}
}

func TestNSID(t *testing.T) {
	ts := newTestServer(t, func(o *Options) { o.NSID = "dns-eu-1" })
	addr := ts.serve(t)
	for _, proto := range protos {
		for _, tc := range []Case{
			{Name: "asked", Qname: "mail.gslb.example.", Qtype: dns.TypeA, NSID: true, WantNSID: "dns-eu-1", Answer: []string{"mail.gslb.example. 300 IN A 192.0.2.25"}},
			{Name: "asked on error", Qname: "example.com.", Qtype: dns.TypeA, NSID: true, WantNSID: "dns-eu-1", Rcode: dns.RcodeRefused},
			{Name: "not asked", Qname: "mail.gslb.example.", Qtype: dns.TypeA, EDNS: true, Answer: []string{"mail.gslb.example. 300 IN A 192.0.2.25"}},
			{Name: "id.server", Qname: "ID.server.", Qtype: dns.TypeTXT, Qclass: dns.ClassCHAOS, Answer: []string{`ID.server. 0 CH TXT "dns-eu-1"`}},
			{Name: "hostname.bind", Qname: "hostname.bind.", Qtype: dns.TypeTXT, Qclass: dns.ClassCHAOS, Answer: []string{`hostname.bind. 0 CH TXT "dns-eu-1"`}},
			{Name: "version.bind", Qname: "version.bind.", Qtype: dns.TypeTXT, Qclass: dns.ClassCHAOS, Rcode: dns.RcodeRefused},
		} {
			t.Run(proto+"/"+tc.name(), func(t *testing.T) {
				req := tc.Msg()
				tc.Check(t, req, exchange(t, proto, addr, req))
			})
		}
	}
}

func TestECSDisabled(t *testing.T) {
	ts := newTestServer(t, func(o *Options) { o.ECS.Disabled = true })
	// The ECS option is ignored, malformed or not: the resolver decides.
	for _, tc := range []Case{
		{Name: "ignored", Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "203.0.113.0/24", Remote: "198.51.100.1", NoECSEcho: true, Answer: []string{wwwNA}},
		{Name: "malformed ignored", Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "203.0.113.1/24", Remote: "198.51.100.1", NoECSEcho: true, Answer: []string{wwwNA}},
	} {
		t.Run(tc.name(), func(t *testing.T) {
			req := tc.Msg()
			tc.Check(t, req, ts.Resolve(req, tc.remote(), "udp"))
		})
	}
}

func TestECSLimits(t *testing.T) {
	ts := newTestServer(t, func(o *Options) { o.ECS.MaxSourceV4 = 16 })
	// Clipped to /16, 192.0.2.0/24 becomes 192.0.0.0, which no network
	// places; and the scope can be no longer than what was looked at.
	tc := Case{Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "203.0.113.0/24", Answer: []string{wwwEU}, Scope: 16}
	req := tc.Msg()
	tc.Check(t, req, ts.Resolve(req, tc.remote(), "udp"))
}

func TestResolveDrops(t *testing.T) {
	ts := newTestServer(t, nil)
	if m := ts.Resolve(nil, netip.AddrPort{}, "udp"); m != nil {
		t.Errorf("Resolve(nil) = %v, want nil", m)
	}
	req := new(dns.Msg).SetQuestion("www.gslb.example.", dns.TypeA)
	req.Response = true
	if m := ts.Resolve(req, netip.AddrPort{}, "udp"); m != nil {
		t.Errorf("Resolve(response) = %v, want nil", m)
	}
}

func TestNotReady(t *testing.T) {
	ts := newTestServer(t, func(o *Options) { o.Snapshot = func() *gslb.Snapshot { return nil } })
	tc := Case{Qname: "www.gslb.example.", Qtype: dns.TypeA, EDNS: true, Rcode: dns.RcodeServerFailure}
	req := tc.Msg()
	tc.Check(t, req, ts.Resolve(req, tc.remote(), "udp"))
}

func TestHeaderBits(t *testing.T) {
	ts := newTestServer(t, nil)
	req := new(dns.Msg).SetQuestion("mail.gslb.example.", dns.TypeA)
	req.RecursionDesired = true
	req.CheckingDisabled = true
	req.AuthenticatedData = true
	req.Zero = true
	resp := ts.Resolve(req, netip.AddrPort{}, "udp")
	if !resp.RecursionDesired || !resp.CheckingDisabled || resp.AuthenticatedData || resp.Zero || resp.RecursionAvailable {
		t.Errorf("RD %v CD %v AD %v Z %v RA %v, want RD and CD copied, AD Z RA clear",
			resp.RecursionDesired, resp.CheckingDisabled, resp.AuthenticatedData, resp.Zero, resp.RecursionAvailable)
	}
	req.RecursionDesired = false
	if resp := ts.Resolve(req, netip.AddrPort{}, "udp"); resp.RecursionDesired {
		t.Error("RD set in reply to a query without it")
	}
}

// TestSnapshotSwap checks that answers follow the snapshot pointer: the
// serial is the new revision and a removed service disappears.
func TestSnapshotSwap(t *testing.T) {
	ts := newTestServer(t, nil)
	soaOf := func() *dns.SOA {
		resp := ts.Resolve(new(dns.Msg).SetQuestion("gslb.example.", dns.TypeSOA), netip.AddrPort{}, "udp")
		return resp.Answer[0].(*dns.SOA)
	}
	if got := soaOf().Serial; got != 42 {
		t.Fatalf("serial = %d, want 42", got)
	}
	keys := testKeys()
	delete(keys, "services/app.gslb.example.")
	next := buildSnapshot(t, keys, 43)
	ts.Prepare(next) // as the store would, before publishing
	ts.snap.Store(next)
	if got := soaOf().Serial; got != 43 {
		t.Errorf("serial after swap = %d, want 43", got)
	}
	resp := ts.Resolve(new(dns.Msg).SetQuestion("app.gslb.example.", dns.TypeA), netip.AddrPort{}, "udp")
	if resp.Rcode != dns.RcodeNameError {
		t.Errorf("removed service: rcode %s, want NXDOMAIN", rcodeName(resp.Rcode))
	}
	// A straggler on the old snapshot is answered but does not become current.
	ts.Prepare(buildSnapshot(t, testKeys(), 41))
	if got := ts.cur.Load().snap.Revision; got != 43 {
		t.Errorf("current compiled revision = %d, want 43", got)
	}
}

// TestCompileOnce checks that static records are parsed once per
// snapshot, not per query.
func TestCompileOnce(t *testing.T) {
	ts := newTestServer(t, nil)
	req := new(dns.Msg).SetQuestion("mail.gslb.example.", dns.TypeA)
	ts.Resolve(req, netip.AddrPort{}, "udp")
	first := ts.cur.Load()
	for range 10 {
		ts.Resolve(req, netip.AddrPort{}, "udp")
	}
	if ts.cur.Load() != first {
		t.Error("compiled again without a new snapshot")
	}
}
