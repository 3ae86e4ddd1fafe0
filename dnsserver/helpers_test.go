package dnsserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/meridian-gslb/meridian/gslb"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// bigTXT is how many TXT records big.gslb.example. has: about 2.4 KB, more
// than fits in 1232 bytes, far less than TCP's 64 KB.
const bigTXT = 30

// testZone is the dev-mode zone in miniature, with static records of the
// kinds operators add.
func testZone() string {
	records := []string{
		"@ IN MX 10 mail.gslb.example.",
		"mail 300 IN A 192.0.2.25",
		`@ IN TXT "v=spf1 mx -all"`,
		"alias 60 IN CNAME www",
		"docs 300 IN CNAME docs.example.net.",
		"gone 300 IN CNAME nothing-here",
		`a.b 300 IN TXT "deep"`,
		`www 300 IN TXT "steered"`,
		"*.wild 300 IN A 192.0.2.80",
		`_dmarc 300 IN TXT "v=DMARC1; p=reject"`,
		`@ IN CAA 0 issue "letsencrypt.org"`,
	}
	for i := range bigTXT {
		records = append(records, fmt.Sprintf(`big 300 IN TXT "record %02d %s"`, i, strings.Repeat("x", 60)))
	}
	z := map[string]any{
		"ttl": "1h",
		"soa": map[string]any{"rname": "hostmaster@gslb.example", "minimum": "30s"},
		"nameservers": []map[string]any{
			{"name": "ns1.gslb.example.", "ipv4": []string{"192.0.2.53"}, "ipv6": []string{"2001:db8::53"}},
			{"name": "ns2.gslb.example.", "ipv4": []string{"198.51.100.53"}},
		},
		"records": records,
	}
	b, err := json.Marshal(z)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// testKeys is the keyspace of the tests: the zone above, three regions on
// three continents, the documentation ranges as operator networks, a geo
// service and a failover service.
func testKeys() map[string]string {
	return map[string]string{
		"zones/gslb.example.":           testZone(),
		"regions/eu-west":               `{"location":{"lat":53.35,"lon":-6.26},"country":"IE","proxies":["127.0.0.11","2001:db8::11"]}`,
		"regions/us-east":               `{"location":{"lat":38.9,"lon":-77.0},"country":"US","proxies":["127.0.0.12"]}`,
		"regions/ap-southeast":          `{"location":{"lat":1.29,"lon":103.85},"country":"SG","proxies":["127.0.0.13"]}`,
		"geo/networks/doc-eu":           `{"cidrs":["192.0.2.0/24"],"country":"IE","continent":"EU"}`,
		"geo/networks/doc-na":           `{"cidrs":["198.51.100.0/24"],"country":"US","continent":"NA"}`,
		"geo/networks/doc-as":           `{"cidrs":["203.0.113.0/24"],"country":"SG","continent":"AS"}`,
		"services/www.gslb.example.":    `{"policy":"geo","regions":["eu-west","us-east","ap-southeast"],"ttl":"20s","answers":1}`,
		"services/app.gslb.example.":    `{"policy":"failover","regions":["us-east","eu-west"],"ttl":"10s"}`,
		"services/x.y.gslb.example.":    `{"policy":"failover","regions":["eu-west"]}`,
		"services/v4only.gslb.example.": `{"policy":"geo","regions":["us-east","ap-southeast"]}`,
	}
}

// buildSnapshot decodes keys (an empty value means absent) with the real
// record validator and builds a snapshot at revision rev.
func buildSnapshot(t testing.TB, keys map[string]string, rev int64) *gslb.Snapshot {
	t.Helper()
	entries := map[string]gslb.Entry{}
	for k, v := range keys {
		if v == "" {
			continue
		}
		e, err := gslb.Decode(k, []byte(v), gslb.Validators{Record: CheckRecord})
		if err != nil {
			t.Fatalf("Decode(%s): %v", k, err)
		}
		entries[e.Key.String()] = e
	}
	snap := gslb.Build(entries, rev)
	if p := snap.Problems(); len(p) > 0 {
		t.Fatalf("snapshot problems: %v", p)
	}
	return snap
}

type testServer struct {
	*Server
	reg  *prometheus.Registry
	snap atomic.Pointer[gslb.Snapshot]
}

// newTestServer returns a server over the test keyspace at revision 42.
// edit, if not nil, adjusts the options.
func newTestServer(t testing.TB, edit func(*Options)) *testServer {
	t.Helper()
	ts := &testServer{reg: prometheus.NewRegistry()}
	ts.snap.Store(buildSnapshot(t, testKeys(), 42))
	opts := Options{Snapshot: ts.snap.Load, Registerer: ts.reg}
	if edit != nil {
		edit(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts.Server = s
	return ts
}

// serve runs ListenAndServe on a loopback port for the test's lifetime and
// returns the address, UDP and TCP both.
func (ts *testServer) serve(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- ts.ListenAndServe(ctx, []string{"127.0.0.1:0"}, func() { close(started) }) }()
	select {
	case <-started:
	case err := <-done:
		cancel()
		t.Fatalf("ListenAndServe: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ListenAndServe returned %v", err)
		}
	})
	return ts.LocalAddrs()[0].String()
}

var protos = []string{"udp", "tcp"}

// exchange sends m over proto to addr.
func exchange(t testing.TB, proto, addr string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: proto}
	if proto == "udp" {
		// Read whatever arrives; the size limit under test is the server's.
		c.UDPSize = dns.MaxMsgSize
	}
	resp, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("exchange %s %s: %v", proto, m.Question[0].Name, err)
	}
	return resp
}

// Case is one query and the answer expected, in the spirit of CoreDNS's
// plugin/test: records are zone-file strings compared after dns.NewRR
// normalises them.
type Case struct {
	Name   string // test name; defaults to Qname/qtype
	Qname  string
	Qtype  uint16
	Qclass uint16 // default IN
	// ECS is the client subnet to send ("192.0.2.0/24"); "" sends none.
	ECS string
	// EDNS sends an OPT record (implied by ECS and NSID).
	EDNS bool
	NSID bool
	// Remote is the resolver's address (default 127.0.0.1).
	Remote string

	Rcode             int
	Answer, Ns, Extra []string // Extra without the OPT record
	Scope             int      // the ECS scope expected in the echo (when ECS is set)
	NoECSEcho         bool     // expect no ECS option in the reply even though one was sent
	Ordered           bool     // compare Answer in order
	Truncated         bool
	NotAuthoritative  bool
	AnswerCount       int // when > 0, only check how many answers (truncation)
	WantNSID          string
	SkipWire          bool // needs Remote or a request the client would not send
	udpSize           uint16
	mutate            func(*dns.Msg)
}

func (tc Case) name() string {
	if tc.Name != "" {
		return tc.Name
	}
	return tc.Qname + "/" + dns.TypeToString[tc.Qtype]
}

// Msg builds the query.
func (tc Case) Msg() *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(tc.Qname, tc.Qtype)
	m.Id = 0x4d52
	if tc.Qclass != 0 {
		m.Question[0].Qclass = tc.Qclass
	}
	if tc.EDNS || tc.ECS != "" || tc.NSID || tc.udpSize != 0 {
		size := tc.udpSize
		if size == 0 {
			size = 1232
		}
		m.SetEdns0(size, false)
		opt := m.IsEdns0()
		if tc.ECS != "" {
			p := netip.MustParsePrefix(tc.ECS)
			e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: uint8(p.Bits()), Address: p.Addr().AsSlice()}
			if p.Addr().Is6() {
				e.Family = 2
			}
			opt.Option = append(opt.Option, e)
		}
		if tc.NSID {
			opt.Option = append(opt.Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
		}
	}
	if tc.mutate != nil {
		tc.mutate(m)
	}
	return m
}

func (tc Case) remote() netip.AddrPort {
	r := tc.Remote
	if r == "" {
		r = "127.0.0.1"
	}
	return netip.AddrPortFrom(netip.MustParseAddr(r), 5300)
}

// Check compares a response with the case.
func (tc Case) Check(t testing.TB, req, resp *dns.Msg) {
	t.Helper()
	if resp == nil {
		t.Fatalf("%s: no response", tc.name())
	}
	if resp.Id != req.Id || !resp.Response {
		t.Errorf("%s: id %d response %v, want id %d and QR", tc.name(), resp.Id, resp.Response, req.Id)
	}
	if resp.Rcode != tc.Rcode {
		t.Errorf("%s: rcode = %s, want %s", tc.name(), rcodeName(resp.Rcode), rcodeName(tc.Rcode))
	}
	wantAA := !tc.NotAuthoritative && (tc.Rcode == dns.RcodeSuccess || tc.Rcode == dns.RcodeNameError)
	if resp.Authoritative != wantAA {
		t.Errorf("%s: AA = %v, want %v", tc.name(), resp.Authoritative, wantAA)
	}
	if resp.RecursionAvailable {
		t.Errorf("%s: RA set", tc.name())
	}
	if resp.Truncated != tc.Truncated {
		t.Errorf("%s: TC = %v, want %v", tc.name(), resp.Truncated, tc.Truncated)
	}
	if len(req.Question) == 1 {
		if len(resp.Question) != 1 || resp.Question[0] != req.Question[0] {
			t.Errorf("%s: question = %v, want %v (case kept)", tc.name(), resp.Question, req.Question)
		}
	}
	if tc.AnswerCount > 0 {
		if len(resp.Answer) != tc.AnswerCount {
			t.Errorf("%s: %d answers, want %d", tc.name(), len(resp.Answer), tc.AnswerCount)
		}
	} else {
		compareSection(t, tc.name()+" answer", tc.Answer, resp.Answer, tc.Ordered)
	}
	compareSection(t, tc.name()+" authority", tc.Ns, resp.Ns, false)
	var extra []dns.RR
	for _, rr := range resp.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			extra = append(extra, rr)
		}
	}
	compareSection(t, tc.name()+" additional", tc.Extra, extra, false)

	reqOpt, opt := req.IsEdns0(), resp.IsEdns0()
	if (reqOpt != nil) != (opt != nil) {
		t.Fatalf("%s: request OPT %v, reply OPT %v", tc.name(), reqOpt != nil, opt != nil)
	}
	if opt == nil {
		return
	}
	// RFC 3225 §3: the DO bit of the query MUST be copied in the response.
	if opt.Do() != (reqOpt != nil && reqOpt.Do()) {
		t.Errorf("%s: reply DO %v, query DO %v", tc.name(), opt.Do(), reqOpt != nil && reqOpt.Do())
	}
	if opt.Version() != 0 {
		t.Errorf("%s: reply EDNS version %d", tc.name(), opt.Version())
	}
	var ecs *dns.EDNS0_SUBNET
	var nsid *dns.EDNS0_NSID
	for _, o := range opt.Option {
		switch e := o.(type) {
		case *dns.EDNS0_SUBNET:
			ecs = e
		case *dns.EDNS0_NSID:
			nsid = e
		}
	}
	if tc.ECS != "" && !tc.NoECSEcho {
		if ecs == nil {
			t.Fatalf("%s: no ECS in reply", tc.name())
		}
		p := netip.MustParsePrefix(tc.ECS)
		got, _ := netip.AddrFromSlice(ecs.Address)
		if got.Unmap() != p.Addr() || int(ecs.SourceNetmask) != p.Bits() {
			t.Errorf("%s: ECS echo %s/%d, want %s", tc.name(), got, ecs.SourceNetmask, p)
		}
		if int(ecs.SourceScope) != tc.Scope {
			t.Errorf("%s: ECS scope = %d, want %d", tc.name(), ecs.SourceScope, tc.Scope)
		}
	} else if ecs != nil {
		t.Errorf("%s: unexpected ECS echo %v", tc.name(), ecs)
	}
	switch {
	case tc.WantNSID != "" && nsid == nil:
		t.Errorf("%s: no NSID in reply", tc.name())
	case tc.WantNSID != "" && nsid.Nsid != fmt.Sprintf("%x", tc.WantNSID):
		t.Errorf("%s: NSID = %s, want %x", tc.name(), nsid.Nsid, tc.WantNSID)
	case tc.WantNSID == "" && nsid != nil:
		t.Errorf("%s: unexpected NSID %v", tc.name(), nsid)
	}
}

func rcodeName(rc int) string { return rcodeLabel(rcodeIndex(rc)) }

func compareSection(t testing.TB, what string, want []string, got []dns.RR, ordered bool) {
	t.Helper()
	var w, g []string
	for _, s := range want {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("%s: bad expectation %q: %v", what, s, err)
		}
		w = append(w, rr.String())
	}
	for _, rr := range got {
		g = append(g, rr.String())
	}
	if !ordered {
		slices.Sort(w)
		slices.Sort(g)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, diff)
	}
}
