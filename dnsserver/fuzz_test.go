package dnsserver

import (
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// FuzzResolve feeds Resolve whatever miekg/dns can unpack and checks the
// invariants every reply must hold. Its seeds are the table's queries,
// with and without DO, so plain `go test` runs them. The zone is signed:
// queries with DO get signatures, and every signature must verify.
func FuzzResolve(f *testing.F) {
	for _, tc := range cases {
		if b, err := tc.Msg().Pack(); err == nil {
			f.Add(b, false)
			f.Add(b, true)
		}
		m := tc.Msg()
		if m.IsEdns0() == nil {
			m.SetEdns0(1232, true)
		}
		m.IsEdns0().SetDo()
		if b, err := m.Pack(); err == nil {
			f.Add(b, false)
			f.Add(b, true)
		}
	}
	for _, size := range []uint16{0, 100, 512, 700, 4096, 65535} {
		m := new(dns.Msg).SetQuestion("big.gslb.example.", dns.TypeTXT)
		m.SetEdns0(size, true)
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
	}
	ts := newSignedServer(f, nil, "gslb.example.")
	remote := netip.MustParseAddrPort("192.0.2.7:5300")
	f.Fuzz(func(t *testing.T, data []byte, tcp bool) {
		req := new(dns.Msg)
		if err := req.Unpack(data); err != nil {
			return // miekg/dns answers these itself (FORMERR if there is a header)
		}
		proto := "udp"
		if tcp {
			proto = "tcp"
		}
		resp := ts.Resolve(req, remote, proto)
		if resp == nil {
			if !req.Response {
				t.Fatal("no reply to a query")
			}
			return
		}
		if req.Response {
			t.Fatal("replied to a response")
		}
		out, err := resp.Pack()
		if err != nil {
			t.Fatalf("reply does not pack: %v\n%v", err, resp)
		}
		if resp.Id != req.Id || !resp.Response {
			t.Fatalf("reply id %d QR %v, want id %d and QR", resp.Id, resp.Response, req.Id)
		}
		if len(req.Question) == 1 && (len(resp.Question) != 1 || resp.Question[0] != req.Question[0]) {
			t.Fatalf("reply question %v, want %v", resp.Question, req.Question)
		}
		opt := req.IsEdns0()
		if (opt != nil) != (resp.IsEdns0() != nil) {
			t.Fatalf("request OPT %v, reply OPT %v", opt != nil, resp.IsEdns0() != nil)
		}
		if proto == "udp" {
			limit := dns.MinMsgSize
			if opt != nil {
				limit = min(max(int(opt.UDPSize()), dns.MinMsgSize), DefaultUDPSize)
			}
			if len(out) > limit {
				t.Fatalf("UDP reply of %d bytes, limit %d", len(out), limit)
			}
		}
		if resp.AuthenticatedData {
			t.Fatal("AD set by an authoritative server")
		}
		// Signed: the query had DO and the answer comes from the signed
		// zone. Then DO is echoed, black lies replace NXDOMAIN and every
		// RRset carries a signature that verifies; else no DNSSEC record.
		signed := opt != nil && opt.Do() && resp.IsEdns0().Do()
		if !signed && countType(resp, dns.TypeRRSIG)+countType(resp, dns.TypeNSEC) > 0 {
			t.Fatalf("DNSSEC records in an unsigned answer:\n%v", resp)
		}
		if signed && resp.Rcode == dns.RcodeNameError {
			t.Fatalf("NXDOMAIN in a signed answer:\n%v", resp)
		}
		if signed && resp.Rcode == dns.RcodeSuccess && !resp.Truncated {
			verifySigned(t, resp, ts.keys, time.Now())
		}
		negative := resp.Rcode == dns.RcodeNameError ||
			resp.Rcode == dns.RcodeSuccess && resp.Authoritative && len(resp.Answer) == 0
		if negative && !resp.Truncated {
			soas, other := 0, 0
			for _, rr := range resp.Ns {
				switch rr.Header().Rrtype {
				case dns.TypeSOA:
					soas++
				case dns.TypeRRSIG, dns.TypeNSEC:
					if !signed {
						other++
					}
				default:
					other++
				}
			}
			if soas != 1 || other > 0 {
				t.Fatalf("negative answer with %d SOA in %d authority records:\n%v", soas, len(resp.Ns), resp)
			}
		}
		plain := resp.Copy()
		plain.Compress = false
		if b, err := plain.Pack(); err == nil && len(b) > uncompressedLen(resp) {
			t.Fatalf("uncompressedLen = %d, packed without compression %d", uncompressedLen(resp), len(b))
		}
		if err := new(dns.Msg).Unpack(out); err != nil {
			t.Fatalf("packed reply does not unpack: %v", err)
		}
	})
}
