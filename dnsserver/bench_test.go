package dnsserver

import (
	"net"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/gslb"
)

func benchQuery() *dns.Msg {
	return Case{Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "198.51.100.0/24"}.Msg()
}

// BenchmarkResolve is the public path: Resolve (a fresh reply per query)
// and a pack into a reused buffer.
func BenchmarkResolve(b *testing.B) {
	ts := newTestServer(b, nil)
	req := benchQuery()
	remote := netip.MustParseAddrPort("192.0.2.7:5300")
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		m := ts.Resolve(req, remote, "udp")
		out, err := m.PackBuffer(buf[:cap(buf)])
		if err != nil || len(m.Answer) != 1 {
			b.Fatal(err, m)
		}
		buf = out[:0]
	}
}

// BenchmarkServeDNS is the path a UDP query takes after miekg/dns has
// unpacked it: pooled reply and buffer, metrics, duration.
func BenchmarkServeDNS(b *testing.B) {
	ts := newTestServer(b, noRRL) // one client asking one name: RRL would drop it
	req := benchQuery()
	w := &discardWriter{remote: &net.UDPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 5300}}
	b.ReportAllocs()
	for b.Loop() {
		ts.ServeDNS(w, req)
	}
	if w.n == 0 {
		b.Fatal("nothing written")
	}
}

// BenchmarkResolveParallel is BenchmarkServeDNS on every CPU.
func BenchmarkServeDNSParallel(b *testing.B) {
	ts := newTestServer(b, noRRL)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := benchQuery()
		w := &discardWriter{remote: &net.UDPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 5300}}
		for pb.Next() {
			ts.ServeDNS(w, req)
		}
	})
}

// BenchmarkSteer is the decision alone.
func BenchmarkSteer(b *testing.B) {
	snap := buildSnapshot(b, testKeys(), 1)
	var buf [gslb.MaxAnswers]netip.Addr
	q := gslb.Query{Name: "www.gslb.example.", Client: netip.MustParseAddr("198.51.100.0"), SourceBits: 24, Buf: buf[:0]}
	b.ReportAllocs()
	for b.Loop() {
		d, err := gslb.Steer(snap, q)
		if err != nil || d.Region != "us-east" {
			b.Fatal(err, d.Region)
		}
	}
}

func noRRL(o *Options) { o.RRL.Disabled = true }

type discardWriter struct {
	remote net.Addr
	n      int
}

func (w *discardWriter) LocalAddr() net.Addr         { return w.remote }
func (w *discardWriter) RemoteAddr() net.Addr        { return w.remote }
func (w *discardWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }
func (w *discardWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	w.n += len(b)
	return err
}
func (w *discardWriter) Close() error        { return nil }
func (w *discardWriter) TsigStatus() error   { return nil }
func (w *discardWriter) TsigTimersOnly(bool) {}
func (w *discardWriter) Hijack()             {}

// BenchmarkUDPAnswer is what a UDP reader does per query short of the
// socket calls: parse the wire query (queryParser), serve it, pack the
// answer into the batch.
func BenchmarkUDPAnswer(b *testing.B) {
	ts := newTestServer(b, noRRL)
	wire, err := benchQuery().Pack()
	if err != nil {
		b.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer pc.Close()
	u, err := newUDPListener(ts.Server, pc)
	if err != nil {
		b.Fatal(err)
	}
	r := newUDPReader(u)
	r.in[0].N = copy(r.in[0].Buffers[0], wire)
	r.in[0].Addr = &net.UDPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 5300}
	b.ReportAllocs()
	for b.Loop() {
		r.n = 0
		r.answer(0)
		if r.n != 1 {
			b.Fatal("no answer queued")
		}
	}
}
