package dnsserver

import (
	"testing"

	"github.com/miekg/dns"
)

// TestFormerrKeepsOPT: a query whose ECS option miekg/dns cannot unpack
// (family 3, an IPv4 source of /33) is answered FORMERR with an OPT record
// (RFC 6891 §7), so the resolver does not conclude that EDNS is
// unsupported; AD is not echoed.
func TestFormerrKeepsOPT(t *testing.T) {
	ts := newTestServer(t, nil)
	addr := ts.serve(t)
	for _, tc := range []struct {
		name string
		ecs  []byte // raw option data
	}{
		{"family 3", []byte{0, 3, 24, 0, 192, 0, 2}},
		{"source 33", []byte{0, 1, 33, 0, 192, 0, 2, 1, 255}},
		// RFC 7871 §6: the address is exactly ceil(source/8) octets.
		{"source 24, 2 octets", []byte{0, 1, 24, 0, 198, 51}},
		{"source 24, 4 octets", []byte{0, 1, 24, 0, 198, 51, 100, 0}},
		{"source 0, 1 octet", []byte{0, 1, 0, 0, 0}},
		{"IPv6 source 56, 8 octets", []byte{0, 2, 56, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 2, 0}},
	} {
		for _, proto := range protos {
			t.Run(tc.name+"/"+proto, func(t *testing.T) {
				m := new(dns.Msg)
				m.SetQuestion("www.gslb.example.", dns.TypeA)
				m.AuthenticatedData = true
				m.SetEdns0(1232, false)
				b, err := m.Pack()
				if err != nil {
					t.Fatal(err)
				}
				// Append the raw option to the OPT RR (the last 11 bytes:
				// root, type, class, ttl, rdlength 0) and fix rdlength.
				opt := append([]byte{0, 8, 0, byte(len(tc.ecs))}, tc.ecs...)
				b[len(b)-1] = byte(len(opt))
				b = append(b, opt...)
				resp := rawExchange(t, proto, addr, b)
				var r dns.Msg
				if err := r.Unpack(resp); err != nil {
					t.Fatalf("reply %x does not unpack: %v", resp, err)
				}
				if r.Rcode != dns.RcodeFormatError || r.IsEdns0() == nil || r.AuthenticatedData {
					t.Errorf("reply rcode %s, OPT %v, AD %v; want FORMERR with OPT, AD clear", dns.RcodeToString[r.Rcode], r.IsEdns0() != nil, r.AuthenticatedData)
				}
			})
		}
	}
	// The right length is answered, with the option echoed, also next to
	// a cookie and an NSID request.
	for _, proto := range protos {
		m := new(dns.Msg)
		m.SetQuestion("www.gslb.example.", dns.TypeA)
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = []dns.EDNS0{
			&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"},
			&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 22, Address: []byte{198, 51, 100, 0}},
			&dns.EDNS0_NSID{Code: dns.EDNS0NSID},
		}
		r := exchange(t, proto, addr, m)
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
			t.Errorf("%s: ECS /22 with 3 octets: rcode %s, %d answers; want NOERROR with an answer", proto, dns.RcodeToString[r.Rcode], len(r.Answer))
		} else if e := ecsOf(r); e.SourceNetmask != 22 {
			t.Errorf("%s: ECS echoed as %v", proto, e)
		}
	}
	// A FORMERR for a query without EDNS gets no OPT.
	header := []byte{0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0}
	if resp := rawExchange(t, "udp", addr, header); len(resp) < 12 || resp[11] != 0 {
		t.Errorf("FORMERR without EDNS: %x, want ARCOUNT 0", resp)
	}
}
