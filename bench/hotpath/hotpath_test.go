// Package hotpath benchmarks Meridian's DNS answer path on the query mix and
// GeoIP data of bench/dns-peers.sh, in process: what one query costs the
// server apart from sockets and scheduling, and how much of it is parsing
// the request. It complements the peer benchmark (where those costs are
// included) and dnsserver's own benchmarks (one query shape, already
// parsed).
//
//	go test -run '^$' -bench . -benchmem ./bench/hotpath/
//
// It needs python3: the mmdb and the query mix are written by
// bench/lib/mkmmdb.py and bench/lib/mkqueries.py, so they are the very data
// the peer benchmark uses. Without python3 the benchmarks are skipped.
package hotpath

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/gslb/geo"
)

// policy is what bench/cmd/benchseed writes for dns-peers.sh, except that
// health is static: ap-south is disabled (the peer benchmark has a live
// prober see it down, which costs the answer path the same: health is
// compiled into the snapshot).
var policy = map[string]string{
	"zones/gslb.example.": `{"ttl":"300s","soa":{"mname":"ns1.gslb.example.","rname":"hostmaster.gslb.example.",
		"refresh":"3600s","retry":"600s","expire":"604800s","minimum":"60s"},
		"nameservers":[{"name":"ns1.gslb.example.","ipv4":["127.0.0.53"]}]}`,
	"regions/us-east":            `{"location":{"lat":39.04,"lon":-77.49},"proxies":["127.0.10.1"]}`,
	"regions/eu-west":            `{"location":{"lat":50.11,"lon":8.68},"proxies":["127.0.10.2"]}`,
	"regions/ap-south":           `{"location":{"lat":1.35,"lon":103.82},"proxies":["127.0.10.3"],"disabled":true}`,
	"services/www.gslb.example.": `{"policy":"geo","regions":["us-east","eu-west","ap-south"],"ttl":"30s","answers":1}`,
}

type fixture struct {
	srv     *dnsserver.Server
	queries [][]byte // wire format, as dnsperf sends them
}

func setup(b testing.TB) *fixture {
	b.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		b.Skip("python3 not found: it writes the benchmark's mmdb and query mix")
	}
	dir := b.TempDir()
	mmdb, qbin := filepath.Join(dir, "geo.mmdb"), filepath.Join(dir, "queries.bin")
	for _, c := range [][]string{
		{py, "../lib/mkmmdb.py", mmdb, "4000"},
		{py, "../lib/mkqueries.py", qbin, "20000"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			b.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	db, err := geo.OpenMMDB(mmdb)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	entries := map[string]gslb.Entry{}
	for k, v := range policy {
		e, err := gslb.Decode(k, []byte(v), gslb.Validators{})
		if err != nil {
			b.Fatalf("%s: %v", k, err)
		}
		entries[e.Key.String()] = e
	}
	snap := gslb.Build(entries, 1)
	if p := snap.Problems(); len(p) > 0 {
		b.Fatalf("policy problems: %v", p)
	}
	var cur atomic.Pointer[gslb.Snapshot]
	cur.Store(snap)
	srv, err := dnsserver.New(dnsserver.Options{Snapshot: cur.Load, Geo: db})
	if err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile(qbin)
	if err != nil {
		b.Fatal(err)
	}
	f := &fixture{srv: srv}
	for len(raw) >= 2 {
		n := int(binary.BigEndian.Uint16(raw))
		f.queries = append(f.queries, raw[2:2+n])
		raw = raw[2+n:]
	}
	return f
}

// BenchmarkQueryMix: one op is one query of the mix, taken in turn.
//   - unpack: miekg/dns parses the request (what its server does before
//     calling the handler);
//   - serve: unpack, then Server.ServeDNS (resolve, pack, write to a
//     discarding writer): the server's CPU work per query short of the
//     socket calls and the goroutine miekg/dns starts per UDP packet.
func BenchmarkQueryMix(b *testing.B) {
	f := setup(b)
	b.Run("unpack", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			m := new(dns.Msg)
			if err := m.Unpack(f.queries[i%len(f.queries)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("serve", func(b *testing.B) {
		w := &discard{remote: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			m := new(dns.Msg)
			if err := m.Unpack(f.queries[i%len(f.queries)]); err != nil {
				b.Fatal(err)
			}
			f.srv.ServeDNS(w, m)
			i++
		}
		if w.n == 0 {
			b.Fatal("nothing written")
		}
	})
}

// TestQueryMixAnswers checks the fixture steers as the peer benchmark
// expects (bench/lib/summarize.py expect), so the benchmark measures the
// real work: a European ECS subnet goes to eu-west, Tokyo too (ap-south is
// out), the resolver's own address (New York) to us-east.
func TestQueryMixAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("writes an mmdb with python3")
	}
	f := setup(t)
	for _, c := range []struct {
		ecs  string
		want string
	}{
		{"", "127.0.10.1"},
		{"193.0.6.0/24", "127.0.10.2"},
		{"202.12.27.0/24", "127.0.10.2"},
		{"8.8.8.0/24", "127.0.10.1"},
		{"2001:67c:2e8::/48", "127.0.10.2"},
	} {
		m := new(dns.Msg)
		m.SetQuestion("www.gslb.example.", dns.TypeA)
		m.SetEdns0(1232, false)
		if c.ecs != "" {
			p := netip.MustParsePrefix(c.ecs)
			fam := uint16(1)
			if p.Addr().Is6() {
				fam = 2
			}
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{
				Code: dns.EDNS0SUBNET, Family: fam, SourceNetmask: uint8(p.Bits()),
				Address: p.Addr().AsSlice(),
			})
		}
		r := f.srv.Resolve(m, netip.MustParseAddrPort("127.0.0.1:40000"), "udp")
		got := ""
		if len(r.Answer) == 1 {
			if a, ok := r.Answer[0].(*dns.A); ok {
				got = a.A.String()
			}
		}
		if got != c.want {
			t.Errorf("ECS %q: answer %q, want %s", c.ecs, got, c.want)
		}
	}
}

type discard struct {
	remote net.Addr
	n      int
}

func (w *discard) LocalAddr() net.Addr         { return w.remote }
func (w *discard) RemoteAddr() net.Addr        { return w.remote }
func (w *discard) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }
func (w *discard) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	w.n += len(b)
	return err
}
func (w *discard) Close() error        { return nil }
func (w *discard) TsigStatus() error   { return nil }
func (w *discard) TsigTimersOnly(bool) {}
func (w *discard) Hijack()             {}
