package dnsserver

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/miekg/dns"
)

// FuzzUDPAnswer feeds the UDP loop's per-datagram path (udpReader.answer:
// header checks, the fast parser or miekg/dns, resolve, pack) arbitrary
// bytes, as they arrive from the network, and checks: no panic; at most
// one answer; an answer only to a query (QR clear) of at least a header;
// every answer is a well-formed response with the query's ID and opcode
// that fits the UDP size limit; and whatever the fast parser accepts is
// answered exactly as after miekg/dns's Unpack (the same bytes).
func FuzzUDPAnswer(f *testing.F) {
	for _, b := range parseSeeds(f) {
		f.Add(b)
	}
	for _, tc := range cases {
		if b, err := tc.Msg().Pack(); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte{0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x12, 0x34})
	// Unsigned, so that two answers to one query are byte for byte equal
	// (a fresh ECDSA signature is not); from loopback, which RRL exempts.
	ts := newTestServer(f, nil)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { pc.Close() })
	u, err := newUDPListener(ts.Server, pc)
	if err != nil {
		f.Fatal(err)
	}
	r := newUDPReader(u)
	from := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5300}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > udpReadSize {
			data = data[:udpReadSize]
		}
		r.n = 0
		r.in[0].N = copy(r.in[0].Buffers[0], data)
		r.in[0].Addr = from
		r.answer(0)
		if r.n > 1 {
			t.Fatalf("%d answers to one datagram", r.n)
		}
		if len(data) < 12 || data[2]&0x80 != 0 {
			if r.n != 0 {
				t.Fatalf("answered a datagram that is short (%d bytes) or a response", len(data))
			}
			return
		}
		if r.n == 0 {
			t.Fatalf("no answer to a query of %d bytes", len(data))
		}
		out := r.outBuf[0]
		if len(out) > ts.udpSize {
			t.Fatalf("answer of %d bytes, more than %d", len(out), ts.udpSize)
		}
		var resp dns.Msg
		if err := resp.Unpack(out); err != nil {
			t.Fatalf("answer %x does not unpack: %v", out, err)
		}
		if !resp.Response || resp.Id != binary.BigEndian.Uint16(data) {
			t.Fatalf("answer is not a response to the query: %v", &resp)
		}
		if want := int(data[2]>>3) & 0xf; resp.Opcode != want {
			t.Fatalf("answer opcode %d, query %d", resp.Opcode, want)
		}
		// The fast path and miekg/dns's path give the same bytes (for a
		// datagram the read buffer did not cut: that one is answered
		// FORMERR before either parser runs).
		if _, ok := r.p.parse(data); ok && len(data) < udpReadSize {
			fast := append([]byte(nil), out...)
			req := new(dns.Msg)
			if err := req.Unpack(data); err != nil {
				t.Fatalf("parsed by queryParser, not by miekg/dns: %v", err)
			}
			w := &bufWriter{}
			ts.Server.serve(w, req, protoUDP, from.AddrPort(), r.start)
			if string(w.b) != string(fast) {
				t.Fatalf("fast path and miekg/dns path answer differently:\nfast  %x\nmiekg %x", fast, w.b)
			}
		}
	})
}

type bufWriter struct{ b []byte }

func (w *bufWriter) Write(b []byte) (int, error) {
	w.b = append(w.b[:0], b...)
	return len(b), nil
}
