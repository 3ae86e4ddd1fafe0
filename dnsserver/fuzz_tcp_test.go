package dnsserver

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// FuzzTCPFraming writes arbitrary bytes down a real TCP connection to a
// running server (length prefixes that lie, messages split or run
// together, garbage) and checks what comes back: only whole,
// length-prefixed replies that unpack and are responses, and a server that
// still answers afterwards. Seeds: pipelined valid queries, a truncated
// frame, a zero-length frame, EDNS/ECS/DO queries.
func FuzzTCPFraming(f *testing.F) {
	frame := func(msgs ...*dns.Msg) []byte {
		var out []byte
		for _, m := range msgs {
			b, err := m.Pack()
			if err != nil {
				f.Fatal(err)
			}
			out = binary.BigEndian.AppendUint16(out, uint16(len(b)))
			out = append(out, b...)
		}
		return out
	}
	q := func(name string, t uint16) *dns.Msg { return new(dns.Msg).SetQuestion(name, t) }
	ecs := q("www.gslb.example.", dns.TypeA)
	ecs.SetEdns0(1232, true)
	ecs.IsEdns0().Option = append(ecs.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.IPv4(192, 0, 2, 0).To4()})
	two := frame(q("www.gslb.example.", dns.TypeA), ecs, q("gslb.example.", dns.TypeSOA))
	f.Add(two)
	f.Add(two[:len(two)-5])
	f.Add([]byte{0, 0})
	f.Add([]byte{0xff, 0xff, 1, 2, 3})
	f.Add(append([]byte{0, 12}, make([]byte, 12)...))
	for _, tc := range cases {
		if b, err := tc.Msg().Pack(); err == nil {
			f.Add(append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...))
		}
	}
	ts := newTestServer(f, nil)
	addr := ts.serve(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
		_, _ = conn.Write(data)
		_ = conn.(*net.TCPConn).CloseWrite()
		got, _ := io.ReadAll(conn)
		for len(got) > 0 {
			if len(got) < 2 {
				t.Fatalf("a partial length prefix: %x", got)
			}
			n := int(binary.BigEndian.Uint16(got))
			if len(got) < 2+n {
				t.Fatalf("a frame of %d bytes with %d sent", n, len(got)-2)
			}
			var m dns.Msg
			if err := m.Unpack(got[2 : 2+n]); err != nil || !m.Response {
				t.Fatalf("reply %x: unpack %v, QR %v", got[2:2+n], err, m.Response)
			}
			got = got[2+n:]
		}
		// The server still answers.
		r := exchange(t, "tcp", addr, q("gslb.example.", dns.TypeSOA))
		if r.Rcode != dns.RcodeSuccess {
			t.Fatalf("after the input, SOA rcode %s", dns.RcodeToString[r.Rcode])
		}
	})
}
