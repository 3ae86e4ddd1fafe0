package dnsserver

import (
	"bytes"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/miekg/dns"
)

// TestPackReplyMatchesMiekg: the hand-appended OPT gives the bytes
// miekg/dns gives, for random ECS echoes (both families, every prefix
// length, address bits beyond the prefix), NSID, other records in the
// additional section, compression on and off; and options it does not
// encode by hand still go through miekg/dns.
func TestPackReplyMatchesMiekg(t *testing.T) {
	s := newTestServer(t, func(o *Options) { o.NSID = "ns1.test" })
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		m := new(dns.Msg)
		m.SetQuestion("www.gslb.example.", dns.TypeA)
		m.Response, m.Authoritative = true, true
		m.Compress = i%2 == 0
		for j := range rng.IntN(4) {
			m.Answer = append(m.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: "www.gslb.example.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30},
				A:   net.IPv4(192, 0, 2, byte(j)),
			})
		}
		if rng.IntN(3) == 0 {
			m.Extra = append(m.Extra, &dns.A{
				Hdr: dns.RR_Header{Name: "ns1.gslb.example.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 3600},
				A:   net.IPv4(127, 0, 0, 1),
			})
		}
		opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: uint16(512 + rng.IntN(4000))}}
		if rng.IntN(2) == 0 {
			opt.SetDo()
		}
		switch rng.IntN(3) {
		case 0:
			a := make(net.IP, 4)
			for k := range a {
				a[k] = byte(rng.Uint32())
			}
			opt.Option = append(opt.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1,
				SourceNetmask: uint8(rng.IntN(33)), SourceScope: uint8(rng.IntN(33)), Address: a.To16()})
		case 1:
			a := make(net.IP, 16)
			for k := range a {
				a[k] = byte(rng.Uint32())
			}
			opt.Option = append(opt.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 2,
				SourceNetmask: uint8(rng.IntN(129)), SourceScope: uint8(rng.IntN(129)), Address: a})
		}
		if rng.IntN(2) == 0 {
			opt.Option = append(opt.Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: s.nsid})
		}
		m.Extra = append(m.Extra, opt)

		want, err := m.Copy().Pack()
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.packReply(m, make([]byte, 0, 512))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d: %v\n got %x\nwant %x", i, m, got, want)
		}
		if !s.handPackable(opt) {
			t.Fatalf("case %d: our own options are not packed by hand: %v", i, opt)
		}
	}

	// Not ours: a cookie, another NSID, a second OPT position.
	m := new(dns.Msg)
	m.SetQuestion("www.gslb.example.", dns.TypeA)
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: 1232}}
	opt.Option = []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}}
	m.Extra = []dns.RR{opt}
	if s.handPackable(opt) {
		t.Error("a cookie counts as packable by hand")
	}
	want, _ := m.Copy().Pack()
	if got, err := s.packReply(m, nil); err != nil || !bytes.Equal(got, want) {
		t.Errorf("cookie: got %x, %v; want %x", got, err, want)
	}
	if s.handPackable(&dns.OPT{Hdr: dns.RR_Header{Name: "."}, Option: []dns.EDNS0{&dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: "ff"}}}) {
		t.Error("a foreign NSID counts as packable by hand")
	}
}

// TestPackReplyNoAllocs: an answer with an echoed ECS option and NSID
// packs without allocating once the buffer is large enough.
func TestPackReplyNoAllocs(t *testing.T) {
	s := newTestServer(t, func(o *Options) { o.NSID = "ns1.test" })
	m := new(dns.Msg)
	m.SetQuestion("www.gslb.example.", dns.TypeA)
	m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "www.gslb.example.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: net.IPv4(192, 0, 2, 1)}}
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: 1232}}
	opt.Option = []dns.EDNS0{
		&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, SourceScope: 24, Address: net.IPv4(198, 51, 100, 0)},
		&dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: s.nsid},
	}
	m.Extra = []dns.RR{opt}
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := s.packReply(m, buf[:cap(buf)]); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("packReply allocates %v times per answer", n)
	}
}
