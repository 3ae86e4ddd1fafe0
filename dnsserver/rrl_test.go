package dnsserver

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

func TestRRLOptions(t *testing.T) {
	snap := newTestServer(t, nil).snap.Load
	for _, tc := range []struct {
		name string
		opts RRLOptions
		err  string // substring; "" for valid
	}{
		{name: "zero value", opts: RRLOptions{}},
		{name: "disabled ignores ranges", opts: RRLOptions{Disabled: true, Rate: -5}},
		{name: "no slip", opts: RRLOptions{Slip: NoSlip}},
		{name: "negative rate", opts: RRLOptions{Rate: -1}, err: "RRL.Rate -1"},
		{name: "error rate", opts: RRLOptions{ErrorRate: 2_000_000}, err: "RRL.ErrorRate"},
		{name: "short window", opts: RRLOptions{Window: time.Millisecond}, err: "RRL.Window 1ms"},
		{name: "long window", opts: RRLOptions{Window: 2 * time.Hour}, err: "RRL.Window 2h0m0s"},
		{name: "slip 11", opts: RRLOptions{Slip: 11}, err: "RRL.Slip 11"},
		{name: "slip -2", opts: RRLOptions{Slip: -2}, err: "RRL.Slip -2"},
		{name: "prefix v4", opts: RRLOptions{PrefixV4: 33}, err: "RRL.PrefixV4 33"},
		{name: "prefix v6", opts: RRLOptions{PrefixV6: -1}, err: "RRL.PrefixV6 -1"},
		{name: "table", opts: RRLOptions{TableSize: 1 << 30}, err: "RRL.TableSize"},
		{name: "bad exempt", opts: RRLOptions{Exempt: []netip.Prefix{{}}}, err: "RRL.Exempt[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Options{Snapshot: snap, RRL: tc.opts})
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("New(RRL %+v) = %v, want success", tc.opts, err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("New(RRL %+v) = %v, want an error with %q", tc.opts, err, tc.err)
			}
		})
	}
	o, err := RRLOptions{Exempt: []netip.Prefix{netip.MustParsePrefix("192.0.2.7/24")}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := RRLOptions{
		Rate: 20, NoDataRate: 20, NXDomainRate: 20, ReferralRate: 20, ErrorRate: 20,
		Window: 15 * time.Second, Slip: 2, PrefixV4: 24, PrefixV6: 56, TableSize: 1 << 16,
		Exempt: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")},
	}
	if diff := cmp.Diff(want, o, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("defaults mismatch (-want +got):\n%s", diff)
	}
}

// TestRRLLimited drives one bucket with an explicit clock: at each step,
// n responses are charged at time at, and sent of them must pass.
func TestRRLLimited(t *testing.T) {
	type step struct {
		at      time.Duration
		n, sent int
	}
	steady := func(every time.Duration, count int) []step {
		var s []step
		for i := range count {
			s = append(s, step{at: time.Duration(i) * every, n: 1, sent: 1})
		}
		return s
	}
	const wrap = time.Duration(1<<tatBits) * time.Microsecond
	for _, tc := range []struct {
		name  string
		kind  rrlKind
		start time.Duration // offset of the clock
		steps []step
	}{
		{name: "a fresh key gets one second's worth at once", steps: []step{{0, 15, 10}}},
		{name: "at the rate, nothing is limited", steps: steady(100*time.Millisecond, 100)},
		{name: "just above the rate, the burst runs out", steps: append(steady(90*time.Millisecond, 100)[:90], step{8100 * time.Millisecond, 5, 1})},
		{name: "credit comes back at the rate", steps: []step{{0, 10, 10}, {500 * time.Millisecond, 5, 5}, {time.Second, 5, 5}, {1200 * time.Millisecond, 5, 2}}},
		{name: "credit is capped at one second's worth", steps: []step{{0, 1, 1}, {time.Minute, 15, 10}}},
		{
			// The flood pushes the bucket 1s + window (6s) ahead; it is
			// forgiven 5s after the flood, not before.
			name:  "a flood is forgiven one window after it stops",
			steps: []step{{0, 1000, 10}, {4900 * time.Millisecond, 1, 0}, {6 * time.Second, 1, 1}},
		},
		{
			// Limited responses count: a client that keeps asking stays
			// limited however long it asks.
			name:  "a sustained flood stays limited",
			steps: []step{{0, 1000, 10}, {3 * time.Second, 100, 0}, {6 * time.Second, 100, 0}, {9 * time.Second, 100, 0}},
		},
		{name: "an hour later the key is new", steps: []step{{0, 1000, 10}, {time.Hour, 15, 10}}},
		{name: "nxdomain has its own rate", kind: kindNXDomain, steps: []step{{0, 5, 2}, {3 * time.Second, 3, 2}}},
		{name: "errors have their own rate", kind: kindError, steps: []step{{0, 5, 3}}},
		{
			name:  "the 40-bit clock wraps around",
			start: wrap - 500*time.Millisecond,
			steps: []step{{0, 10, 10}, {time.Second, 10, 10}, {1500 * time.Millisecond, 10, 5}},
		},
		{
			// Idle for nearly the 12.7 days the clock takes to wrap, an
			// entry looks, modulo 2^40, far ahead: more than 1s + window
			// is impossible for a live one, so it is idle, not limited
			// for days.
			name:  "an entry idle for almost a wrap is idle",
			steps: []step{{0, 1000, 10}, {wrap - 100*time.Second, 15, 10}},
		},
		{name: "an entry idle for more than a wrap is idle", steps: []step{{0, 1000, 10}, {wrap + 10*time.Second, 15, 10}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := testRRL(t, RRLOptions{Rate: 10, NXDomainRate: 2, ErrorRate: 3, Window: 5 * time.Second})
			const key = 0xfeedface_12345678
			for i, s := range tc.steps {
				sent := 0
				for range s.n {
					if !l.limited(key, tc.kind, (tc.start + s.at).Microseconds()) {
						sent++
					}
				}
				if sent != s.sent {
					t.Errorf("step %d at %s: %d of %d sent, want %d", i, s.at, sent, s.n, s.sent)
				}
			}
		})
	}
}

func testRRL(t testing.TB, o RRLOptions) *rrl {
	t.Helper()
	o, err := o.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return newRRL(o)
}

func TestRRLKeysApart(t *testing.T) {
	l := testRRL(t, RRLOptions{Rate: 10})
	for range 100 {
		l.limited(1, kindAnswer, 0)
	}
	if !l.limited(1, kindAnswer, 0) {
		t.Fatal("flooded key not limited")
	}
	for _, k := range []uint64{2, 1 | 1<<40, 1 | 1<<63} { // same set, other tags
		if l.limited(k, kindAnswer, 0) {
			t.Errorf("key %#x limited by key 1's flood", k)
		}
	}
}

// TestRRLEviction floods a 64-bucket table with new keys: the table
// stays 64 buckets, and the keys it is limiting stay limited, because
// eviction takes the bucket least ahead of its rate.
func TestRRLEviction(t *testing.T) {
	l := testRRL(t, RRLOptions{Rate: 10, TableSize: 64})
	if len(l.table) != 64 || l.sets != 16 {
		t.Fatalf("table %d buckets in %d sets, want 64 in 16", len(l.table), l.sets)
	}
	victims := []uint64{7, 7 | 1<<40, 7 | 2<<40} // three keys of set 7, flooded
	for _, v := range victims {
		for range 1000 {
			l.limited(v, kindAnswer, 0)
		}
	}
	for i := range uint64(20_000) {
		l.limited(i*0x9e3779b97f4a7c15, kindAnswer, int64(i)) // new keys, 20k in 20 ms
	}
	now := int64(20_000)
	if n := l.busy(now); n > 64 {
		t.Errorf("%d busy buckets, more than the table", n)
	}
	for _, v := range victims {
		if !l.limited(v, kindAnswer, now) {
			t.Errorf("flooded key %#x was evicted by the new keys", v)
		}
	}
	// A set full of flooded keys: a new key takes the least flooded
	// bucket and starts afresh, without its debt.
	for tag := range uint64(4) {
		for range 100 + 10*tag {
			l.limited(3|tag<<40, kindAnswer, now)
		}
	}
	if l.limited(3|9<<40, kindAnswer, now) {
		t.Error("a new key inherited the debt of the bucket it evicted")
	}
}

func TestRRLAction(t *testing.T) {
	for _, tc := range []struct {
		slip int
		want string // actions of 6 limited responses: d drop, s slip
	}{
		{slip: 0, want: "dsdsds"}, // default 2
		{slip: 1, want: "ssssss"},
		{slip: 3, want: "ddsdds"},
		{slip: NoSlip, want: "dddddd"},
	} {
		l := testRRL(t, RRLOptions{Slip: tc.slip})
		var got []byte
		for range 6 {
			got = append(got, "xds"[l.action(true)])
		}
		if string(got) != tc.want {
			t.Errorf("slip %d: actions %s, want %s", tc.slip, got, tc.want)
		}
		if a := l.action(false); a != rrlSend {
			t.Errorf("slip %d: not limited gives %s, want send", tc.slip, a)
		}
	}
}

func TestRRLClassify(t *testing.T) {
	ts := newTestServer(t, func(o *Options) { o.NSID = "ns-test" })
	referral := new(dns.Msg)
	referral.SetQuestion("a.sub.gslb.example.", dns.TypeA)
	referral.Response = true
	referral.Ns = []dns.RR{mustRR(t, "sub.gslb.example. 300 IN NS ns.example.net.")}
	for _, tc := range []struct {
		name     string
		msg      *dns.Msg // the answer; else Resolve(qname, qtype)
		qname    string
		qtype    uint16
		class    uint16
		kind     rrlKind
		key      string
		wildcard bool
	}{
		{name: "steered answer", qname: "www.gslb.example.", qtype: dns.TypeA, kind: kindAnswer, key: "www.gslb.example."},
		{name: "0x20 case kept", qname: "wWw.GsLb.ExAmPlE.", qtype: dns.TypeA, kind: kindAnswer, key: "wWw.GsLb.ExAmPlE."},
		{name: "static answer", qname: "mail.gslb.example.", qtype: dns.TypeA, kind: kindAnswer, key: "mail.gslb.example."},
		{name: "cname chain by its query name", qname: "alias.gslb.example.", qtype: dns.TypeA, kind: kindAnswer, key: "alias.gslb.example."},
		{name: "nodata", qname: "mail.gslb.example.", qtype: dns.TypeMX, kind: kindNoData, key: "mail.gslb.example."},
		{name: "empty non-terminal", qname: "b.gslb.example.", qtype: dns.TypeA, kind: kindNoData, key: "b.gslb.example."},
		{name: "nxdomain by its zone", qname: "random-1234.gslb.example.", qtype: dns.TypeA, kind: kindNXDomain, key: "gslb.example."},
		{name: "wildcard by its closest encloser", qname: "random-1234.wild.gslb.example.", qtype: dns.TypeA, kind: kindAnswer, key: "wild.gslb.example.", wildcard: true},
		{name: "wildcard nodata", qname: "RANDOM.wild.gslb.example.", qtype: dns.TypeTXT, kind: kindNoData, key: "wild.gslb.example.", wildcard: true},
		{name: "wildcard owner itself", qname: "*.wild.gslb.example.", qtype: dns.TypeA, kind: kindAnswer, key: "*.wild.gslb.example."},
		{name: "refused", qname: "example.com.", qtype: dns.TypeA, kind: kindError},
		{name: "notimp", msg: &dns.Msg{MsgHdr: dns.MsgHdr{Rcode: dns.RcodeNotImplemented}, Question: []dns.Question{{Name: "x.", Qtype: dns.TypeA, Qclass: dns.ClassINET}}}, kind: kindError},
		{name: "no question", msg: &dns.Msg{}, kind: kindError},
		{name: "chaos", qname: "id.server.", qtype: dns.TypeTXT, class: dns.ClassCHAOS, kind: kindAnswer, key: "id.server."},
		{name: "referral", msg: referral, kind: kindReferral, key: "sub.gslb.example."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.msg
			if m == nil {
				m = ts.Resolve(Case{Qname: tc.qname, Qtype: tc.qtype, Qclass: tc.class}.Msg(), netip.MustParseAddrPort("192.0.2.7:5300"), "udp")
			}
			kind, key, wildcard := ts.classify(m)
			if kind != tc.kind || key != tc.key || wildcard != tc.wildcard {
				t.Errorf("classify(%s) = %s %q %v, want %s %q %v", tc.name, rrlKindLabels[kind], key, wildcard, rrlKindLabels[tc.kind], tc.key, tc.wildcard)
			}
		})
	}
}

// TestRRLClassifySigned classifies the answers of a signed zone to DO
// queries: a name that does not exist is NOERROR with an NSEC black lie
// (RFC 9824), and must share its zone's NXDOMAIN bucket as it does
// unsigned, while real NODATA stays keyed by its name.
func TestRRLClassifySigned(t *testing.T) {
	ss := newSignedServer(t, nestedKeys(), "gslb.example.", "sub.gslb.example.")
	nxname := func(qname, owner string) *dns.Msg { // hand-built: NOERROR, an NSEC with NXNAME at owner
		m := new(dns.Msg)
		m.SetQuestion(qname, dns.TypeA)
		m.Response, m.Authoritative = true, true
		m.Ns = []dns.RR{mustRR(t, nsec(owner, "RRSIG NSEC TYPE128"))}
		return m
	}
	for _, tc := range []struct {
		name     string
		msg      *dns.Msg // the answer; else Resolve(qname, qtype) with DO
		qname    string
		qtype    uint16
		noDO     bool
		kind     rrlKind
		key      string
		wildcard bool
	}{
		{name: "black lie by its zone", qname: "random-1234.gslb.example.", qtype: dns.TypeA, kind: kindNXDomain, key: "gslb.example."},
		{name: "black lie, 0x20", qname: "RaNdOm-1234.GsLb.ExAmPlE.", qtype: dns.TypeAAAA, kind: kindNXDomain, key: "gslb.example."},
		{name: "black lie below an empty non-terminal", qname: "x.b.gslb.example.", qtype: dns.TypeTXT, kind: kindNXDomain, key: "gslb.example."},
		{name: "black lie in a nested signed zone", qname: "random.sub.gslb.example.", qtype: dns.TypeA, kind: kindNXDomain, key: "sub.gslb.example."},
		{name: "black lie answering type NSEC", qname: "random-1234.gslb.example.", qtype: dns.TypeNSEC, kind: kindNXDomain, key: "gslb.example."},
		{name: "without DO: real nxdomain", qname: "random-1234.gslb.example.", qtype: dns.TypeA, noDO: true, kind: kindNXDomain, key: "gslb.example."},
		{name: "unsigned nested zone with DO", qname: "random.plain.gslb.example.", qtype: dns.TypeA, kind: kindNXDomain, key: "plain.gslb.example."},
		{name: "signed answer", qname: "mail.gslb.example.", qtype: dns.TypeA, kind: kindAnswer, key: "mail.gslb.example."},
		{name: "NSEC of a name that exists", qname: "mail.gslb.example.", qtype: dns.TypeNSEC, kind: kindAnswer, key: "mail.gslb.example."},
		{name: "signed nodata", qname: "mail.gslb.example.", qtype: dns.TypeMX, kind: kindNoData, key: "mail.gslb.example."},
		{name: "signed empty non-terminal", qname: "b.gslb.example.", qtype: dns.TypeA, kind: kindNoData, key: "b.gslb.example."},
		{name: "signed service without the family", qname: "v4only.gslb.example.", qtype: dns.TypeAAAA, kind: kindNoData, key: "v4only.gslb.example."},
		{name: "signed wildcard", qname: "random-1234.wild.gslb.example.", qtype: dns.TypeA, kind: kindAnswer, key: "wild.gslb.example.", wildcard: true},
		{name: "signed wildcard nodata", qname: "random-1234.wild.gslb.example.", qtype: dns.TypeTXT, kind: kindNoData, key: "wild.gslb.example.", wildcard: true},
		{name: "DS of an unsigned child", qname: "plain.gslb.example.", qtype: dns.TypeDS, kind: kindNoData, key: "plain.gslb.example."},
		{name: "NXNAME at another name", msg: nxname("mail.gslb.example.", "y.gslb.example."), kind: kindNoData, key: "mail.gslb.example."},
		{name: "NXNAME without SOA or RRSIG", msg: nxname("x.gslb.example.", "X.gslb.example."), kind: kindNXDomain, key: "x.gslb.example."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.msg
			if m == nil {
				req := doMsg(tc.qname, tc.qtype, "")
				if tc.noDO {
					req = Case{Qname: tc.qname, Qtype: tc.qtype, EDNS: true}.Msg()
				}
				m = ss.Resolve(req, netip.MustParseAddrPort("192.0.2.7:5300"), "udp")
			}
			kind, key, wildcard := ss.classify(m)
			if kind != tc.kind || key != tc.key || wildcard != tc.wildcard {
				t.Errorf("classify(%s) = %s %q %v, want %s %q %v\n%v", tc.name, rrlKindLabels[kind], key, wildcard, rrlKindLabels[tc.kind], tc.key, tc.wildcard, m)
			}
		})
	}
}

func mustRR(t testing.TB, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

func TestRRLKey(t *testing.T) {
	l := testRRL(t, RRLOptions{})
	p := l.clientPrefix(netip.MustParseAddr("192.0.2.77"))
	if p != netip.MustParseAddr("192.0.2.0") {
		t.Errorf("clientPrefix(192.0.2.77) = %s, want 192.0.2.0", p)
	}
	if p6 := l.clientPrefix(netip.MustParseAddr("2001:db8:1:2ff::1")); p6 != netip.MustParseAddr("2001:db8:1:200::") {
		t.Errorf("clientPrefix(2001:db8:1:2ff::1) = %s, want 2001:db8:1:200:: (/56)", p6)
	}
	long := strings.Repeat("abcdefghij.", 20)
	base := l.key(p, kindAnswer, dns.TypeA, "www.gslb.example.", false)
	if l.key(p, kindAnswer, dns.TypeA, "WWW.gslb.EXAMPLE.", false) != base {
		t.Error("key depends on the case of the name")
	}
	if l.key(p, kindAnswer, dns.TypeA, strings.ToUpper(long), false) != l.key(p, kindAnswer, dns.TypeA, long, false) {
		t.Error("key of a long name depends on its case")
	}
	for name, k := range map[string]uint64{
		"other type":     l.key(p, kindAnswer, dns.TypeAAAA, "www.gslb.example.", false),
		"other kind":     l.key(p, kindNoData, dns.TypeA, "www.gslb.example.", false),
		"wildcard":       l.key(p, kindAnswer, dns.TypeA, "www.gslb.example.", true),
		"other name":     l.key(p, kindAnswer, dns.TypeA, "ww.gslb.example.", false),
		"other prefix":   l.key(netip.MustParseAddr("192.0.3.0"), kindAnswer, dns.TypeA, "www.gslb.example.", false),
		"other limiter":  testRRL(t, RRLOptions{}).key(p, kindAnswer, dns.TypeA, "www.gslb.example.", false),
		"long name tail": l.key(p, kindAnswer, dns.TypeA, long+"x.", false),
	} {
		if k == base && name != "long name tail" {
			t.Errorf("%s: same key", name)
		}
	}
}

// TestRRLServe runs limited queries through ServeDNS: what is written,
// dropped and slipped, per transport and client. In a synctest bubble the
// clock stands still, so no credit comes back between queries however
// slowly they run.
func TestRRLServe(t *testing.T) { synctest.Test(t, testRRLServe) }

func testRRLServe(t *testing.T) {
	exempt := netip.MustParsePrefix("198.51.100.0/24")
	ts := newTestServer(t, func(o *Options) {
		o.RRL = RRLOptions{Rate: 2, Slip: 2, Exempt: []netip.Prefix{exempt}}
	})
	query := Case{Qname: "www.gslb.example.", Qtype: dns.TypeA, EDNS: true}.Msg()
	for _, tc := range []struct {
		name               string
		remote             net.Addr
		full, slip, silent int
	}{
		{name: "udp", remote: &net.UDPAddr{IP: net.ParseIP("192.0.2.7"), Port: 5300}, full: 2, slip: 4, silent: 4},
		{name: "same /24, same bucket", remote: &net.UDPAddr{IP: net.ParseIP("192.0.2.200"), Port: 5300}, slip: 5, silent: 5},
		{name: "other /24", remote: &net.UDPAddr{IP: net.ParseIP("192.0.3.7"), Port: 5300}, full: 2, slip: 4, silent: 4},
		{name: "v4-mapped is the same client", remote: &net.UDPAddr{IP: net.ParseIP("::ffff:192.0.3.8"), Port: 5300}, slip: 5, silent: 5},
		{name: "tcp is never limited", remote: &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 5300}, full: 10},
		{name: "exempt", remote: &net.UDPAddr{IP: net.ParseIP("198.51.100.9"), Port: 5300}, full: 10},
		{name: "loopback is exempt by default", remote: &net.UDPAddr{IP: net.ParseIP("127.0.0.1"), Port: 5300}, full: 10},
		{name: "ipv6 loopback too", remote: &net.UDPAddr{IP: net.ParseIP("::1"), Port: 5300}, full: 10},
	} {
		func() { // no t.Run in a bubble; the cases share the buckets in order
			w := &recordWriter{remote: tc.remote}
			for range 10 {
				ts.ServeDNS(w, query)
			}
			var full, slip int
			for _, b := range w.msgs {
				m := new(dns.Msg)
				if err := m.Unpack(b); err != nil {
					t.Fatal(err)
				}
				if m.Id != query.Id || len(m.Question) != 1 || m.Question[0] != query.Question[0] {
					t.Errorf("%s: reply %v does not match the query", tc.name, m)
				}
				if m.IsEdns0() == nil {
					t.Errorf("%s: reply lost its OPT record: %v", tc.name, m)
				}
				switch {
				case m.Truncated && len(m.Answer)+len(m.Ns) == 0 && len(m.Extra) == 1:
					slip++
					if len(b) > 12+len("www.gslb.example.")+1+4+11 {
						t.Errorf("%s: slipped reply is %d bytes, more than the query", tc.name, len(b))
					}
				case !m.Truncated && len(m.Answer) == 1:
					full++
				default:
					t.Errorf("%s: unexpected reply %v", tc.name, m)
				}
			}
			if full != tc.full || slip != tc.slip || 10-len(w.msgs) != tc.silent {
				t.Errorf("%s: 10 queries: %d answered, %d slipped, %d dropped; want %d, %d, %d", tc.name, full, slip, 10-len(w.msgs), tc.full, tc.slip, tc.silent)
			}
		}()
	}
	if got := counterValue(t, ts.m.rrlSlipped[kindAnswer]) + counterValue(t, ts.m.rrlDropped[kindAnswer]); got != 36 {
		t.Errorf("dropped + slipped = %v, want 36", got)
	}
}

// TestRRLBlackLieFlood floods a signed zone with random names from one
// /24, with and without DO, under several existing names and for several
// types (NSEC among them, which the black lie answers): NXDOMAIN and its
// signed form, the black lie, share the zone's one NXDOMAIN bucket and
// rate, so the flood is limited as a plain NXDOMAIN flood is, whatever mix
// of names and flags the attacker picks. The bubble's clock stands still.
func TestRRLBlackLieFlood(t *testing.T) { synctest.Test(t, testRRLBlackLieFlood) }

func testRRLBlackLieFlood(t *testing.T) {
	ss := newSignedServer(t, nil, "gslb.example.")
	ss.rrl = testRRL(t, RRLOptions{Rate: 100, NXDomainRate: 5, Slip: NoSlip})
	parents := []string{"gslb.example.", "mail.gslb.example.", "www.gslb.example.", "b.gslb.example."}
	qtypes := []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeNSEC}
	w := &recordWriter{remote: &net.UDPAddr{IP: net.ParseIP("192.0.2.7"), Port: 5300}}
	const n = 120
	for i := range n {
		req := Case{Qname: fmt.Sprintf("r%04d.%s", i, parents[i%len(parents)]), Qtype: qtypes[i%len(qtypes)], EDNS: true}.Msg()
		if i%2 == 0 {
			req.IsEdns0().SetDo()
		}
		w.remote.(*net.UDPAddr).IP[15] = byte(i) // spoofed sources within one /24
		ss.ServeDNS(w, req)
	}
	var blackLies, nxdomains int
	for _, b := range w.msgs {
		m := new(dns.Msg)
		if err := m.Unpack(b); err != nil {
			t.Fatal(err)
		}
		switch {
		case m.Rcode == dns.RcodeNameError:
			nxdomains++
		case m.Rcode == dns.RcodeSuccess && slices.ContainsFunc(slices.Concat(m.Answer, m.Ns), func(rr dns.RR) bool {
			nsec, ok := rr.(*dns.NSEC)
			return ok && slices.Contains(nsec.TypeBitMap, dns.TypeNXNAME)
		}):
			blackLies++
		default:
			t.Errorf("reply is neither NXDOMAIN nor a black lie: %v", m)
		}
	}
	// The burst of a fresh bucket at rate 5: the first 5 queries, of
	// which 3 have DO.
	if len(w.msgs) != 5 || blackLies != 3 || nxdomains != 2 {
		t.Errorf("%d queries: %d answered (%d black lies, %d NXDOMAIN), want 5 (3, 2)", n, len(w.msgs), blackLies, nxdomains)
	}
	if got := counterValue(t, ss.m.rrlDropped[kindNXDomain]); got != n-5 {
		t.Errorf("rrl_dropped_total{kind=nxdomain} = %v, want %d", got, n-5)
	}
	for _, k := range []rrlKind{kindAnswer, kindNoData} {
		if got := counterValue(t, ss.m.rrlDropped[k]); got != 0 {
			t.Errorf("rrl_dropped_total{kind=%s} = %v, want 0", rrlKindLabels[k], got)
		}
	}
	// Another /24 has its own bucket.
	other := &recordWriter{remote: &net.UDPAddr{IP: net.ParseIP("192.0.3.7"), Port: 5300}}
	ss.ServeDNS(other, doMsg("r9999.gslb.example.", dns.TypeA, ""))
	if len(other.msgs) != 1 {
		t.Errorf("a client in another /24 was limited by the flood")
	}
}

// TestRRLWire sends a burst of UDP queries for one name over IPv4 and IPv6
// loopback sockets: with RRL at 1/s, one is answered, the rest are
// slipped and dropped in turn; TCP is answered; without LimitLoopback,
// loopback clients are not limited at all.
func TestRRLWire(t *testing.T) {
	limited := newTestServer(t, func(o *Options) { o.RRL = RRLOptions{Rate: 1, LimitLoopback: true} })
	open := newTestServer(t, func(o *Options) { o.RRL = RRLOptions{Rate: 1} })
	for i, addr := range limited.serveOn(t, "127.0.0.1:0", "[::1]:0") {
		t.Run(addr, func(t *testing.T) {
			full, tc, silent := udpBurst(t, addr, 11)
			// The first answer is the burst; a slow machine may earn one
			// more credit within the burst.
			if full < 1 || full > 2 || tc < (10-full)/2 || tc > (11-full)/2 || full+tc+silent != 11 {
				t.Errorf("11 queries at rate 1: %d answered, %d slipped, %d dropped", full, tc, silent)
			}
			req := Case{Qname: "www.gslb.example.", Qtype: dns.TypeA, AnswerCount: 1}
			req.Check(t, req.Msg(), exchange(t, "tcp", addr, req.Msg()))
			openAddr := open.serveOn(t, []string{"127.0.0.1:0", "[::1]:0"}[i])[0]
			if full, tc, silent := udpBurst(t, openAddr, 11); full != 11 {
				t.Errorf("loopback without LimitLoopback: %d answered, %d slipped, %d dropped; want all answered", full, tc, silent)
			}
		})
	}
}

// udpBurst sends n queries for one name back to back from one UDP socket
// and sorts the replies that come within a short quiet time.
func udpBurst(t *testing.T, addr string, n int) (full, tc, silent int) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range n {
		b, err := tq(uint16(i), "www.gslb.example.", dns.TypeA).Pack()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 2048)
	for got := 0; got < n; got++ {
		if err := c.SetReadDeadline(time.Now().Add(500 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		k, err := c.Read(buf)
		if err != nil {
			break // quiet: the rest were dropped
		}
		m := new(dns.Msg)
		if err := m.Unpack(buf[:k]); err != nil {
			t.Fatal(err)
		}
		if m.Truncated {
			tc++
		} else {
			full++
		}
	}
	return full, tc, n - full - tc
}

// recordWriter keeps what is written to it.
type recordWriter struct {
	discardWriter
	remote net.Addr
	msgs   [][]byte
}

func (w *recordWriter) RemoteAddr() net.Addr { return w.remote }
func (w *recordWriter) Write(b []byte) (int, error) {
	w.msgs = append(w.msgs, append([]byte(nil), b...))
	return len(b), nil
}

// BenchmarkRRLCheck is the RRL decision for a UDP answer: classify, hash,
// charge the bucket. It must not allocate. black-lie is a DO query for a
// name that does not exist in a signed zone (NOERROR with an NSEC).
func BenchmarkRRLCheck(b *testing.B) {
	for _, bc := range []struct {
		name, qname string
		signed      bool
	}{
		{name: "answer", qname: "www.gslb.example."},
		{name: "answer-0x20", qname: "wWw.GsLB.eXamPle."},
		{name: "nxdomain", qname: "nope.gslb.example."},
		{name: "wildcard", qname: "x.wild.gslb.example."},
		{name: "signed-answer", qname: "www.gslb.example.", signed: true},
		{name: "black-lie", qname: "nope.gslb.example.", signed: true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var ts *testServer
			req := Case{Qname: bc.qname, Qtype: dns.TypeA}.Msg()
			if bc.signed {
				ts = newSignedServer(b, nil, "gslb.example.").testServer
				req = doMsg(bc.qname, dns.TypeA, "")
			} else {
				ts = newTestServer(b, nil)
			}
			m := ts.Resolve(req, netip.MustParseAddrPort("192.0.2.7:5300"), "udp")
			remote := netip.MustParseAddr("192.0.2.7")
			now := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				ts.rrlCheck(m, remote, now)
			}
		})
	}
}
