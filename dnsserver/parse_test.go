package dnsserver

import (
	"net"
	"reflect"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// parseSeeds are queries of every shape: those queryParser takes and
// those it must leave to miekg/dns.
func parseSeeds(t testing.TB) map[string][]byte {
	t.Helper()
	q := func(name string, qtype uint16, edit func(m *dns.Msg)) []byte {
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		if edit != nil {
			edit(m)
		}
		b, err := m.Pack()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return b
	}
	ecs := func(family uint16, ip string, src uint8) func(*dns.Msg) {
		return func(m *dns.Msg) {
			m.SetEdns0(1232, false)
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET,
				Family: family, SourceNetmask: src, Address: net.ParseIP(ip)})
		}
	}
	long := strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("b", 61) + "."
	return map[string][]byte{
		"plain":         q("www.gslb.example.", dns.TypeA, nil),
		"root":          q(".", dns.TypeNS, nil),
		"mixed case":    q("WwW.GsLb.ExAmPlE.", dns.TypeAAAA, nil),
		"underscore":    q("_sip._udp.gslb.example.", dns.TypeSRV, nil),
		"escaped dot":   q(`a\.b.gslb.example.`, dns.TypeA, nil),
		"escaped byte":  q(`a\255b.gslb.example.`, dns.TypeA, nil),
		"longest name":  q(long, dns.TypeA, nil),
		"edns":          q("www.gslb.example.", dns.TypeA, func(m *dns.Msg) { m.SetEdns0(4096, true) }),
		"edns v1":       q("www.gslb.example.", dns.TypeA, func(m *dns.Msg) { m.SetEdns0(1232, false); m.IsEdns0().SetVersion(1) }),
		"ecs v4 /24":    q("www.gslb.example.", dns.TypeA, ecs(1, "198.51.100.0", 24)),
		"ecs v4 /0":     q("www.gslb.example.", dns.TypeA, ecs(1, "0.0.0.0", 0)),
		"ecs v4 /32":    q("www.gslb.example.", dns.TypeA, ecs(1, "192.0.2.1", 32)),
		"ecs v6 /56":    q("www.gslb.example.", dns.TypeAAAA, ecs(2, "2001:db8:1:200::", 56)),
		"ecs family 0":  q("www.gslb.example.", dns.TypeA, ecs(0, "0.0.0.0", 0)),
		"flags":         q("www.gslb.example.", dns.TypeA, func(m *dns.Msg) { m.CheckingDisabled, m.AuthenticatedData, m.Zero = true, true, true }),
		"opcode notify": q("www.gslb.example.", dns.TypeSOA, func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }),
		"response":      q("www.gslb.example.", dns.TypeA, func(m *dns.Msg) { m.Response = true }),
		"nsid": q("www.gslb.example.", dns.TypeA, func(m *dns.Msg) {
			m.SetEdns0(1232, false)
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
		}),
		"ecs and nsid": q("www.gslb.example.", dns.TypeA, func(m *dns.Msg) {
			ecs(1, "203.0.113.0", 24)(m)
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
		}),
		"cookie": q("www.gslb.example.", dns.TypeA, func(m *dns.Msg) {
			m.SetEdns0(1232, false)
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
		}),
		"two questions": q("www.gslb.example.", dns.TypeA, func(m *dns.Msg) {
			m.Question = append(m.Question, dns.Question{Name: "gslb.example.", Qtype: dns.TypeSOA, Qclass: dns.ClassINET})
		}),
		"notify with soa": q("gslb.example.", dns.TypeSOA, func(m *dns.Msg) {
			m.Opcode = dns.OpcodeNotify
			soa, _ := dns.NewRR("gslb.example. 3600 IN SOA ns1.gslb.example. h.gslb.example. 1 2 3 4 5")
			m.Answer = []dns.RR{soa}
		}),
		"glue in additional": q("www.gslb.example.", dns.TypeA, func(m *dns.Msg) {
			a, _ := dns.NewRR("x.gslb.example. 30 IN A 192.0.2.1")
			m.Extra = []dns.RR{a}
		}),
		"chaos": q("id.server.", dns.TypeTXT, func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }),
	}
}

// fastParsed lists the seeds queryParser must take itself (the rest it
// must leave to miekg/dns, or must agree with it on).
var fastParsed = []string{"plain", "root", "mixed case", "underscore", "longest name", "edns", "edns v1",
	"ecs v4 /24", "ecs v4 /0", "ecs v4 /32", "ecs v6 /56", "flags", "opcode notify", "response", "nsid", "ecs and nsid", "chaos"}

// TestQueryParserAgreesWithMiekg: for every seed, whatever queryParser
// accepts unpacks with miekg/dns to the same message, and the common
// shapes are accepted (so that the fast path is the one taken).
func TestQueryParserAgreesWithMiekg(t *testing.T) {
	seeds := parseSeeds(t)
	var p queryParser
	for name, b := range seeds {
		checkParse(t, &p, name, b)
	}
	for _, name := range fastParsed {
		if _, ok := p.parse(seeds[name]); !ok {
			t.Errorf("%s: not parsed by queryParser", name)
		}
	}
	for _, name := range []string{"escaped dot", "escaped byte", "ecs family 0", "cookie", "two questions", "notify with soa", "glue in additional"} {
		if _, ok := p.parse(seeds[name]); ok {
			t.Errorf("%s: parsed by queryParser, which should leave it to miekg/dns", name)
		}
	}
	// Cut short anywhere, a query is refused or agreed on.
	for name, b := range seeds {
		for i := range len(b) {
			checkParse(t, &p, name+" cut", b[:i])
		}
	}
}

func checkParse(t testing.TB, p *queryParser, name string, b []byte) {
	t.Helper()
	got, ok := p.parse(b)
	if !ok {
		return
	}
	want := new(dns.Msg)
	if err := want.Unpack(b); err != nil {
		t.Fatalf("%s: queryParser took %x, which miekg/dns rejects: %v", name, b, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: queryParser and miekg/dns differ on %x\nparser: %#v\n%v\nmiekg:  %#v\n%v", name, b, got, got, want, want)
	}
}

// TestQueryParserNoAllocs: a repeated query name costs no allocation.
func TestQueryParserNoAllocs(t *testing.T) {
	b := parseSeeds(t)["ecs and nsid"]
	var p queryParser
	p.parse(b)
	if n := testing.AllocsPerRun(100, func() {
		if _, ok := p.parse(b); !ok {
			t.Fatal("not parsed")
		}
	}); n != 0 {
		t.Errorf("parse allocates %v times per query", n)
	}
}

// TestQueryParserInternBound: a flood of distinct names does not grow the
// interned names without bound.
func TestQueryParserInternBound(t *testing.T) {
	var p queryParser
	for i := range 5 * maxInterned {
		m := new(dns.Msg)
		m.SetQuestion(strings.Repeat("x", 1+i%60)+string(rune('a'+i%26))+".n"+itoa(i)+".gslb.example.", dns.TypeA)
		b, _ := m.Pack()
		if _, ok := p.parse(b); !ok {
			t.Fatalf("query %d not parsed", i)
		}
		if len(p.names) > maxInterned {
			t.Fatalf("%d interned names, more than %d", len(p.names), maxInterned)
		}
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// FuzzQueryParser: on any input, queryParser either declines or agrees
// with miekg/dns exactly.
func FuzzQueryParser(f *testing.F) {
	for _, b := range parseSeeds(f) {
		f.Add(b)
	}
	var p queryParser
	f.Fuzz(func(t *testing.T, b []byte) {
		checkParse(t, &p, "fuzz", b)
	})
}

func BenchmarkQueryParse(b *testing.B) {
	q := parseSeeds(b)["ecs and nsid"]
	b.Run("queryParser", func(b *testing.B) {
		var p queryParser
		b.ReportAllocs()
		for b.Loop() {
			p.parse(q)
		}
	})
	b.Run("miekg", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m := new(dns.Msg)
			_ = m.Unpack(q)
		}
	})
}
