package dnsserver

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/gslb"
)

// signedServer is a test server whose zones in keys are signed.
type signedServer struct {
	*testServer
	keys map[string]*Key // by zone
}

// newSignedServer serves keyspace (testKeys() when nil) at revision 42
// with a fresh key for each of zones.
func newSignedServer(t testing.TB, keyspace map[string]string, zones ...string) *signedServer {
	t.Helper()
	if keyspace == nil {
		keyspace = testKeys()
	}
	ss := &signedServer{testServer: &testServer{reg: prometheus.NewRegistry()}, keys: map[string]*Key{}}
	var keys []*Key
	for _, z := range zones {
		k, err := GenerateKey(z)
		if err != nil {
			t.Fatal(err)
		}
		ss.keys[k.Zone] = k
		keys = append(keys, k)
	}
	ss.snap.Store(buildSnapshot(t, keyspace, 42))
	s, err := New(Options{Snapshot: ss.snap.Load, Registerer: ss.reg, DNSSEC: DNSSECOptions{Keys: keys}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ss.Server = s
	return ss
}

// nestedKeys is the test keyspace with two zones inside gslb.example.:
// sub (signed in the tests that use it) and plain (never signed).
func nestedKeys() map[string]string {
	keys := testKeys()
	zone := func(records ...string) string {
		b, _ := json.Marshal(map[string]any{
			"ttl":         "10m",
			"nameservers": []map[string]any{{"name": "ns1.gslb.example."}},
			"records":     records,
		})
		return string(b)
	}
	keys["zones/sub.gslb.example."] = zone("host 300 IN A 192.0.2.201")
	keys["zones/plain.gslb.example."] = zone("host 300 IN A 192.0.2.202")
	return keys
}

// doMsg is a query with DO set, with an ECS option when ecs is not "".
func doMsg(qname string, qtype uint16, ecs string) *dns.Msg {
	m := Case{Qname: qname, Qtype: qtype, ECS: ecs, EDNS: true}.Msg()
	m.IsEdns0().SetDo()
	return m
}

// dnssecCase is a query with DO and the answer expected, DNSSEC records
// excluded but NSEC included: every RRSIG is checked by verifySigned.
type dnssecCase struct {
	name              string
	qname             string
	qtype             uint16
	ecs               string
	rcode             int
	answer, ns, extra []string
	unsigned          bool // answered from a zone without a key: no DNSSEC records, DO not echoed
}

func nsec(owner, types string) string {
	return fmt.Sprintf(`%s 30 IN NSEC \000.%s %s`, owner, owner, types)
}

func TestResolveSigned(t *testing.T) {
	ss := newSignedServer(t, nestedKeys(), "gslb.example.", "sub.gslb.example.")
	apexKey := ss.keys["gslb.example."].DNSKEY
	dnskey := fmt.Sprintf("gslb.example. 3600 IN DNSKEY 257 3 13 %s", apexKey.PublicKey)
	subDS := ss.keys["sub.gslb.example."].DS()
	subDS.Hdr.Ttl = 3600
	const sub10 = 600 // sub and plain have a 10m TTL; their negative TTL is 30s too
	cases := []dnssecCase{
		{name: "DNSKEY", qname: "gslb.example.", qtype: dns.TypeDNSKEY, answer: []string{dnskey}},
		{name: "steered A", qname: "www.gslb.example.", qtype: dns.TypeA, ecs: "198.51.100.0/24", answer: []string{wwwNA}},
		{name: "steered A other region", qname: "www.gslb.example.", qtype: dns.TypeA, ecs: "203.0.113.0/24", answer: []string{wwwAS}},
		{name: "steered AAAA", qname: "www.gslb.example.", qtype: dns.TypeAAAA, ecs: "192.0.2.0/24", answer: []string{"www.gslb.example. 20 IN AAAA 2001:db8::11"}},
		{name: "static", qname: "mail.gslb.example.", qtype: dns.TypeA, answer: []string{"mail.gslb.example. 300 IN A 192.0.2.25"}},
		{name: "SOA", qname: "gslb.example.", qtype: dns.TypeSOA, answer: []string{soa}},
		{name: "NS and glue", qname: "gslb.example.", qtype: dns.TypeNS,
			answer: []string{"gslb.example. 3600 IN NS ns1.gslb.example.", "gslb.example. 3600 IN NS ns2.gslb.example."}, extra: glue},
		// Black lies: the name "exists" with nothing but the NSEC.
		{name: "NXDOMAIN as NODATA", qname: "nope.gslb.example.", qtype: dns.TypeA,
			ns: []string{soaNeg, nsec("nope.gslb.example.", "RRSIG NSEC NXNAME")}},
		{name: "NXDOMAIN 0x20", qname: "NoPe.GSLB.example.", qtype: dns.TypeTXT,
			ns: []string{soaNeg, nsec("nope.gslb.example.", "RRSIG NSEC NXNAME")}},
		{name: "NXDOMAIN below service", qname: "deeper.www.gslb.example.", qtype: dns.TypeA,
			ns: []string{soaNeg, nsec("deeper.www.gslb.example.", "RRSIG NSEC NXNAME")}},
		// NODATA: the types that are there.
		{name: "NODATA at service", qname: "www.gslb.example.", qtype: dns.TypeMX, ecs: "192.0.2.0/24",
			ns: []string{soaNeg, nsec("www.gslb.example.", "A TXT AAAA RRSIG NSEC")}},
		{name: "NODATA at apex", qname: "gslb.example.", qtype: dns.TypeA,
			ns: []string{soaNeg, nsec("gslb.example.", "NS SOA MX TXT RRSIG NSEC DNSKEY CAA")}},
		{name: "NODATA static", qname: "mail.gslb.example.", qtype: dns.TypeAAAA,
			ns: []string{soaNeg, nsec("mail.gslb.example.", "A RRSIG NSEC")}},
		{name: "steered NODATA", qname: "v4only.gslb.example.", qtype: dns.TypeAAAA, ecs: "198.51.100.0/24",
			ns: []string{soaNeg, nsec("v4only.gslb.example.", "A RRSIG NSEC")}},
		{name: "empty non-terminal", qname: "b.gslb.example.", qtype: dns.TypeA,
			ns: []string{soaNeg, nsec("b.gslb.example.", "RRSIG NSEC")}},
		{name: "DS at top apex", qname: "gslb.example.", qtype: dns.TypeDS,
			ns: []string{soaNeg, nsec("gslb.example.", "NS SOA MX TXT RRSIG NSEC DNSKEY CAA")}},
		// CNAMEs: each RRset signed; the proof is about the last name.
		{name: "CNAME to service", qname: "alias.gslb.example.", qtype: dns.TypeA, ecs: "203.0.113.0/24",
			answer: []string{"alias.gslb.example. 60 IN CNAME www.gslb.example.", wwwAS}},
		{name: "CNAME to nothing", qname: "gone.gslb.example.", qtype: dns.TypeA,
			answer: []string{"gone.gslb.example. 300 IN CNAME nothing-here.gslb.example."},
			ns:     []string{soaNeg, nsec("nothing-here.gslb.example.", "RRSIG NSEC NXNAME")}},
		// Wildcards: signed as the name asked for.
		{name: "wildcard", qname: "foo.wild.gslb.example.", qtype: dns.TypeA, answer: []string{"foo.wild.gslb.example. 300 IN A 192.0.2.80"}},
		{name: "wildcard NODATA", qname: "foo.wild.gslb.example.", qtype: dns.TypeMX,
			ns: []string{soaNeg, nsec("foo.wild.gslb.example.", "A RRSIG NSEC")}},
		// The wildcard itself, asked for: its RRSIG does not count the '*'
		// label (RFC 4034 §3.1.3). A first label that only starts with '*'
		// is counted (found by FuzzResolve).
		{name: "wildcard asked", qname: "*.wild.gslb.example.", qtype: dns.TypeA, answer: []string{"*.wild.gslb.example. 300 IN A 192.0.2.80"}},
		{name: "star label", qname: "*00.gslb.example.", qtype: dns.TypeA, ns: []string{soaNeg, nsec("*00.gslb.example.", "RRSIG NSEC NXNAME")}},
		// Minimal ANY, signed.
		{name: "ANY apex", qname: "gslb.example.", qtype: dns.TypeANY, answer: []string{`gslb.example. 3600 IN HINFO "RFC8482" ""`}},
		{name: "ANY service", qname: "www.gslb.example.", qtype: dns.TypeANY, ecs: "192.0.2.0/24", answer: []string{wwwEU}},
		// Asked for the NSEC itself: the answer.
		{name: "NSEC", qname: "mail.gslb.example.", qtype: dns.TypeNSEC, answer: []string{nsec("mail.gslb.example.", "A RRSIG NSEC")}},
		{name: "NSEC nonexistent", qname: "nope.gslb.example.", qtype: dns.TypeNSEC, answer: []string{nsec("nope.gslb.example.", "RRSIG NSEC NXNAME")}},
		// Nested zones: DS from the parent (RFC 4035 §3.1.4.1).
		{name: "DS of signed child", qname: "sub.gslb.example.", qtype: dns.TypeDS, answer: []string{subDS.String()}},
		{name: "DS of unsigned child", qname: "plain.gslb.example.", qtype: dns.TypeDS,
			ns: []string{soaNeg, nsec("plain.gslb.example.", "NS RRSIG NSEC")}},
		{name: "child DNSKEY", qname: "sub.gslb.example.", qtype: dns.TypeDNSKEY,
			answer: []string{fmt.Sprintf("sub.gslb.example. %d IN DNSKEY 257 3 13 %s", sub10, ss.keys["sub.gslb.example."].DNSKEY.PublicKey)}},
		{name: "child data", qname: "host.sub.gslb.example.", qtype: dns.TypeA, answer: []string{"host.sub.gslb.example. 300 IN A 192.0.2.201"}},
		{name: "unsigned child", qname: "host.plain.gslb.example.", qtype: dns.TypeA, unsigned: true,
			answer: []string{"host.plain.gslb.example. 300 IN A 192.0.2.202"}},
		{name: "unsigned child NXDOMAIN", qname: "nope.plain.gslb.example.", qtype: dns.TypeA, unsigned: true, rcode: dns.RcodeNameError,
			ns: []string{"plain.gslb.example. 30 IN SOA ns1.gslb.example. hostmaster.plain.gslb.example. 42 3600 900 1209600 30"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := doMsg(tc.qname, tc.qtype, tc.ecs)
			resp := ss.Resolve(req, netip.MustParseAddrPort("127.0.0.1:5300"), "udp")
			if resp.Rcode != tc.rcode {
				t.Errorf("Resolve(%q) rcode = %s, want %s", tc.qname, rcodeName(resp.Rcode), rcodeName(tc.rcode))
			}
			if !resp.Authoritative || resp.AuthenticatedData || resp.Truncated {
				t.Errorf("Resolve(%q) AA %v AD %v TC %v, want AA only", tc.qname, resp.Authoritative, resp.AuthenticatedData, resp.Truncated)
			}
			// RFC 3225 §3: DO is copied, signed zone or not.
			if opt := resp.IsEdns0(); opt == nil || !opt.Do() {
				t.Errorf("Resolve(%q) reply OPT %v, want DO copied", tc.qname, opt)
			}
			compareSection(t, "answer", tc.answer, withoutRRSIG(resp.Answer), false)
			compareSection(t, "authority", tc.ns, withoutRRSIG(resp.Ns), false)
			compareSection(t, "additional", tc.extra, withoutRRSIG(withoutOPT(resp.Extra)), false)
			if tc.unsigned {
				if n := countType(resp, dns.TypeRRSIG) + countType(resp, dns.TypeNSEC); n > 0 {
					t.Errorf("Resolve(%q): %d DNSSEC records from an unsigned zone", tc.qname, n)
				}
				return
			}
			verifySigned(t, resp, ss.keys, time.Now())
		})
	}
}

// TestSignedWithoutDO runs the whole Resolve table against a signed
// server without DO: answers are exactly those of an unsigned server.
func TestSignedWithoutDO(t *testing.T) {
	ss := newSignedServer(t, nil, "gslb.example.")
	for _, tc := range cases {
		if tc.Name == "DO copied" {
			continue // sets DO
		}
		t.Run(tc.name(), func(t *testing.T) {
			req := tc.Msg()
			tc.Check(t, req, ss.Resolve(req, tc.remote(), "udp"))
		})
	}
}

// TestSignedTable runs the whole Resolve table with DO: every RRset is
// signed, and without the DNSSEC records (and with NXDOMAIN for black
// lies) the answer is the one the table expects.
func TestSignedTable(t *testing.T) {
	ss := newSignedServer(t, nil, "gslb.example.")
	for _, tc := range cases {
		if tc.Truncated {
			continue // signatures change what fits; TestSignedTruncation
		}
		t.Run(tc.name(), func(t *testing.T) {
			req := tc.Msg()
			if req.IsEdns0() == nil {
				req.SetEdns0(1232, true)
			}
			req.IsEdns0().SetDo()
			resp := ss.Resolve(req, tc.remote(), "udp")
			if resp.AuthenticatedData {
				t.Error("AD set by an authoritative server")
			}
			signed := resp.Authoritative && len(req.Question) == 1 && (resp.Rcode == dns.RcodeSuccess)
			if signed {
				verifySigned(t, resp, ss.keys, time.Now())
			} else if n := countType(resp, dns.TypeRRSIG) + countType(resp, dns.TypeNSEC); n > 0 {
				t.Errorf("%d DNSSEC records in a %s answer", n, rcodeName(resp.Rcode))
			}
			// RFC 3225 §3: DO is copied into every reply, signed or not.
			if opt := resp.IsEdns0(); opt != nil && !opt.Do() {
				t.Errorf("reply DO = false, want the query's DO copied")
			}
			want := tc
			if want.Rcode == dns.RcodeNameError {
				want.Rcode = dns.RcodeSuccess // black lie
			}
			plain := resp.Copy()
			plain.Answer = withoutDNSSEC(plain.Answer)
			plain.Ns = withoutDNSSEC(plain.Ns)
			plain.Extra = withoutDNSSEC(plain.Extra)
			if opt := plain.IsEdns0(); opt != nil {
				opt.SetDo(false)
			}
			if opt := req.IsEdns0(); opt != nil {
				opt.SetDo(false) // compared as the unsigned query it was built from
			}
			want.Check(t, req, plain)
		})
	}
}

func TestSignedTruncation(t *testing.T) {
	ss := newSignedServer(t, nil, "gslb.example.")
	req := doMsg("big.gslb.example.", dns.TypeTXT, "")
	resp := ss.Resolve(req, netip.AddrPort{}, "udp")
	if !resp.Truncated {
		t.Errorf("big TXT over UDP: TC clear")
	}
	if out, err := resp.Pack(); err != nil || len(out) > DefaultUDPSize {
		t.Errorf("big TXT over UDP: %d bytes, err %v", len(out), err)
	}
	resp = ss.Resolve(req, netip.AddrPort{}, "tcp")
	if resp.Truncated || len(withoutRRSIG(resp.Answer)) != bigTXT {
		t.Fatalf("big TXT over TCP: TC %v, %d answers", resp.Truncated, len(resp.Answer))
	}
	verifySigned(t, resp, ss.keys, time.Now())
	// A signed negative answer (SOA, NSEC and their signatures) fits the
	// 512 bytes of the smallest EDNS buffer.
	small := doMsg("nope.gslb.example.", dns.TypeA, "")
	small.IsEdns0().SetUDPSize(512)
	resp = ss.Resolve(small, netip.AddrPort{}, "udp")
	if resp.Truncated || len(resp.Ns) != 4 {
		t.Errorf("negative answer in 512 bytes: TC %v, %d authority records", resp.Truncated, len(resp.Ns))
	}
}

// TestSignatureCache checks that the second identical query takes its
// signatures from the cache, that a rotated RRset is the same entry, and
// that signatures are made again when half their validity is gone.
func TestSignatureCache(t *testing.T) {
	ss := newSignedServer(t, nil, "gslb.example.")
	sg := ss.dnssec
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	sg.now = func() time.Time { return now }
	remote := netip.MustParseAddrPort("127.0.0.1:5300")
	count := func() (hit, signed float64) {
		return counterValue(t, sg.hits), counterValue(t, sg.signed)
	}
	ask := func(req *dns.Msg) *dns.Msg {
		t.Helper()
		resp := ss.Resolve(req, remote, "udp")
		verifySigned(t, resp, ss.keys, now)
		return resp
	}
	ask(doMsg("mail.gslb.example.", dns.TypeA, ""))
	if hit, signed := count(); hit != 0 || signed != 1 {
		t.Fatalf("first query: %v hits %v signed, want 0 and 1", hit, signed)
	}
	first := ask(doMsg("mail.gslb.example.", dns.TypeA, ""))
	if hit, signed := count(); hit != 1 || signed != 1 {
		t.Fatalf("second query: %v hits %v signed, want 1 and 1", hit, signed)
	}

	// Two addresses, rotated by the query ID: one RRset, one entry.
	keys := testKeys()
	keys["services/two.gslb.example."] = `{"policy":"failover","regions":["eu-west"],"answers":2}`
	keys["regions/eu-west"] = `{"location":{"lat":53.35,"lon":-6.26},"country":"IE","proxies":["127.0.0.11","127.0.0.21"]}`
	ss.snap.Store(buildSnapshot(t, keys, 43))
	var orders []string
	for id := range uint16(2) {
		req := doMsg("two.gslb.example.", dns.TypeA, "")
		req.Id = id
		resp := ask(req)
		orders = append(orders, resp.Answer[0].(*dns.A).A.String())
	}
	if orders[0] == orders[1] {
		t.Fatalf("answers not rotated: %v", orders)
	}
	if hit, signed := count(); hit != 2 || signed != 2 {
		t.Fatalf("rotated RRset: %v hits %v signed, want 2 and 2", hit, signed)
	}

	// Half the validity later, the entry is re-signed; the new signature
	// starts an hour before the new now.
	now = now.Add(DefaultSignatureValidity/2 + time.Second)
	again := ask(doMsg("mail.gslb.example.", dns.TypeA, ""))
	if _, signed := count(); signed != 3 {
		t.Fatalf("after half the validity: %v signed, want 3", signed)
	}
	old, fresh := rrsigOf(first.Answer), rrsigOf(again.Answer)
	if want := uint32(now.Add(-time.Hour).Unix()); fresh.Inception != want || fresh.Inception == old.Inception {
		t.Errorf("re-signed inception %d, want %d (old %d)", fresh.Inception, want, old.Inception)
	}
	if want := uint32(now.Add(DefaultSignatureValidity).Unix()); fresh.Expiration != want {
		t.Errorf("expiration %d, want %d", fresh.Expiration, want)
	}
}

func TestSignedMetrics(t *testing.T) {
	ss := newSignedServer(t, nil, "gslb.example.")
	ss.Resolve(doMsg("nope.gslb.example.", dns.TypeA, ""), netip.AddrPort{}, "udp")
	ss.Resolve(doMsg("nope.gslb.example.", dns.TypeA, ""), netip.AddrPort{}, "udp")
	for _, p := range gatherAndLint(t, ss.reg) {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	want := []string{
		`meridian_dns_dnssec_signatures_total{result="cache_hit"} 2`,
		`meridian_dns_dnssec_signatures_total{result="error"} 0`,
		`meridian_dns_dnssec_signatures_total{result="signed"} 2`,
		`meridian_dns_dnssec_sign_duration_seconds 2`, // observations
	}
	got := samples(t, ss.reg, "meridian_dns_dnssec_signatures_total", "meridian_dns_dnssec_sign_duration_seconds")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metrics mismatch (-want +got):\n%s", diff)
	}
	// Without keys, no DNSSEC metrics.
	plain := newTestServer(t, nil)
	if n := seriesCount(t, plain.reg, "meridian_dns_dnssec_signatures_total"); n != 0 {
		t.Errorf("unsigned server exports %d DNSSEC series", n)
	}
}

func TestDNSSECOptions(t *testing.T) {
	k1, _ := GenerateKey("gslb.example.")
	k2, _ := GenerateKey("gslb.example.")
	k3, _ := GenerateKey("gslb.example.")
	snap := buildSnapshot(t, testKeys(), 1)
	for _, tc := range []struct {
		name string
		opts DNSSECOptions
		want string
	}{
		{"validity short", DNSSECOptions{Keys: []*Key{k1}, Validity: time.Minute}, "Validity"},
		{"validity long", DNSSECOptions{Keys: []*Key{k1}, Validity: 100 * 24 * time.Hour}, "Validity"},
		{"cache negative", DNSSECOptions{Keys: []*Key{k1}, CacheSize: -1}, "CacheSize"},
		{"three keys", DNSSECOptions{Keys: []*Key{k1, k2, k3}}, "more than 2 keys"},
		{"twice", DNSSECOptions{Keys: []*Key{k1, k1}}, "given twice"},
		{"zero key", DNSSECOptions{Keys: []*Key{{Zone: "gslb.example."}}}, "not a key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Options{Snapshot: func() *gslb.Snapshot { return snap }, DNSSEC: tc.opts})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New(%+v) = %v, want an error mentioning %q", tc.opts, err, tc.want)
			}
		})
	}
	// Two keys (a rollover): both published, both sign.
	s, err := New(Options{Snapshot: func() *gslb.Snapshot { return snap }, DNSSEC: DNSSECOptions{Keys: []*Key{k1, k2}}})
	if err != nil {
		t.Fatal(err)
	}
	resp := s.Resolve(doMsg("gslb.example.", dns.TypeDNSKEY, ""), netip.AddrPort{}, "udp")
	if got := len(withoutRRSIG(resp.Answer)); got != 2 {
		t.Errorf("DNSKEY RRset during a rollover: %d keys, want 2", got)
	}
	verifySignedBy(t, resp, map[string][]*Key{"gslb.example.": {k1, k2}}, time.Now())
}

func TestSuccessor(t *testing.T) {
	z := func(n int) string { return strings.Repeat("z", n) }
	for _, tc := range []struct {
		first string // presentation
		total int    // wire octets of the whole name
		want  string // first label of the successor, or "child"
	}{
		{"a", 40, "child"},
		{"a", 253, "child"}, // \000. makes 255
		{"abc", 254, `abc\000`},
		{"abc", 255, "abd"},
		{z(63), 255, z(62) + "{"},
		{z(62) + `\255`, 255, z(61) + "{"},
		{z(62) + "@", 255, z(62) + "["}, // 'A' sorts as 'a': skipped
	} {
		name := nameOfLen(t, tc.first, "gslb.example.", tc.total)
		rest := name[strings.Index(name, ".")+1:]
		want := tc.want + "." + rest
		if tc.want == "child" {
			want = `\000.` + name
		}
		got, ok := successor(name)
		if !ok || got != want {
			t.Errorf("successor(%s...) = %s %v, want %s", tc.first, got, ok, want)
			continue
		}
		if dnsLen(got) > 255 {
			t.Errorf("successor(%s...) is %d octets", tc.first, dnsLen(got))
		}
		if canonicalCompare(name, got) >= 0 {
			t.Errorf("successor(%s...) = %s is not after it", tc.first, got)
		}
	}
	// Names at the limit get signed black lies that pack.
	ss := newSignedServer(t, nil, "gslb.example.")
	for _, total := range []int{253, 254, 255} {
		name := nameOfLen(t, "n", "gslb.example.", total)
		resp := ss.Resolve(doMsg(name, dns.TypeA, ""), netip.AddrPort{}, "tcp")
		if _, err := resp.Pack(); err != nil || resp.Rcode != dns.RcodeSuccess {
			t.Fatalf("%d-octet name: rcode %s, pack %v", total, rcodeName(resp.Rcode), err)
		}
		verifySigned(t, resp, ss.keys, time.Now())
	}
}

// nameOfLen returns first.<x labels>.suffix, total octets in wire form.
func nameOfLen(t *testing.T, first, suffix string, total int) string {
	t.Helper()
	name := first + "." + suffix
	var mid []string
	for left := total - dnsLen(name); left > 0; {
		n := min(left, 64) - 1
		if left-n-1 == 1 {
			n-- // never leave a single octet: a label takes two
		}
		mid = append(mid, strings.Repeat("x", n))
		left -= n + 1
	}
	if len(mid) > 0 {
		name = first + "." + strings.Join(mid, ".") + "." + suffix
	}
	if got := dnsLen(name); got != total {
		t.Fatalf("nameOfLen(%s, %d) is %d octets", first, total, got)
	}
	return name
}

func dnsLen(name string) int {
	var buf [512]byte
	n, err := dns.PackDomainName(name, buf[:], 0, nil, false)
	if err != nil {
		return 1000
	}
	return n
}

// canonicalCompare orders names as RFC 4034 §6.1 does.
func canonicalCompare(a, b string) int {
	la, lb := wireLabels(a), wireLabels(b)
	for i := 1; i <= min(len(la), len(lb)); i++ {
		if c := strings.Compare(la[len(la)-i], lb[len(lb)-i]); c != 0 {
			return c
		}
	}
	return len(la) - len(lb)
}

func wireLabels(name string) []string {
	var buf [512]byte
	n, _ := dns.PackDomainName(strings.ToLower(name), buf[:], 0, nil, false)
	var labels []string
	for off := 0; off < n && buf[off] != 0; off += int(buf[off]) + 1 {
		labels = append(labels, string(buf[off+1:off+1+int(buf[off])]))
	}
	return labels
}

// verifySigned checks every RRset of every section: one RRSIG per key of
// its zone (the longest zone in keys that holds it), each valid at now.
func verifySigned(t testing.TB, resp *dns.Msg, keys map[string]*Key, now time.Time) {
	t.Helper()
	byZone := map[string][]*Key{}
	for z, k := range keys {
		byZone[z] = []*Key{k}
	}
	verifySignedBy(t, resp, byZone, now)
}

func verifySignedBy(t testing.TB, resp *dns.Msg, keys map[string][]*Key, now time.Time) {
	t.Helper()
	for _, sec := range []struct {
		name string
		rrs  []dns.RR
	}{{"answer", resp.Answer}, {"authority", resp.Ns}, {"additional", withoutOPT(resp.Extra)}} {
		type setKey struct {
			owner string
			t     uint16
		}
		sets := map[setKey][]dns.RR{}
		sigs := map[setKey][]*dns.RRSIG{}
		var order []setKey
		for _, rr := range sec.rrs {
			h := rr.Header()
			if sig, ok := rr.(*dns.RRSIG); ok {
				k := setKey{strings.ToLower(h.Name), sig.TypeCovered}
				sigs[k] = append(sigs[k], sig)
				continue
			}
			k := setKey{strings.ToLower(h.Name), h.Rrtype}
			if sets[k] == nil {
				order = append(order, k)
			}
			sets[k] = append(sets[k], rr)
		}
		for k := range sigs {
			if sets[k] == nil {
				t.Errorf("%s: RRSIG for %s %s without its RRset", sec.name, k.owner, dns.TypeToString[k.t])
			}
		}
		for _, k := range order {
			set := sets[k]
			zone := signerOf(k.owner, k.t, keys)
			if zone == "" {
				t.Errorf("%s: %s %s is in no signed zone", sec.name, k.owner, dns.TypeToString[k.t])
				continue
			}
			if got, want := len(sigs[k]), len(keys[zone]); got != want {
				t.Errorf("%s: %s %s has %d RRSIGs, want %d", sec.name, k.owner, dns.TypeToString[k.t], got, want)
				continue
			}
			for _, sig := range sigs[k] {
				key := keyByTag(keys[zone], sig.KeyTag)
				switch {
				case key == nil:
					t.Errorf("%s: %s %s signed by unknown key %d", sec.name, k.owner, dns.TypeToString[k.t], sig.KeyTag)
				case sig.SignerName != zone:
					t.Errorf("%s: %s %s signer %s, want %s", sec.name, k.owner, dns.TypeToString[k.t], sig.SignerName, zone)
				case sig.Hdr.Ttl != set[0].Header().Ttl || sig.OrigTtl != set[0].Header().Ttl:
					t.Errorf("%s: %s %s RRSIG TTL %d/%d, RRset %d", sec.name, k.owner, dns.TypeToString[k.t], sig.Hdr.Ttl, sig.OrigTtl, set[0].Header().Ttl)
				case int(sig.Labels) != dns.CountLabel(k.owner) && !(strings.HasPrefix(k.owner, "*.") && int(sig.Labels) == dns.CountLabel(k.owner)-1):
					t.Errorf("%s: %s %s labels %d", sec.name, k.owner, dns.TypeToString[k.t], sig.Labels)
				case !sig.ValidityPeriod(now):
					t.Errorf("%s: %s %s RRSIG not valid at %s", sec.name, k.owner, dns.TypeToString[k.t], now)
				default:
					if err := sig.Verify(key.DNSKEY, set); err != nil {
						t.Errorf("%s: %s %s: Verify: %v", sec.name, k.owner, dns.TypeToString[k.t], err)
					}
				}
			}
		}
	}
}

// signerOf returns the zone that signs owner/t: the longest zone holding
// it, but the parent for DS at a zone apex.
func signerOf(owner string, t uint16, keys map[string][]*Key) string {
	best := ""
	for z := range keys {
		if !dns.IsSubDomain(z, owner) || len(z) <= len(best) {
			continue
		}
		if t == dns.TypeDS && z == owner {
			continue
		}
		best = z
	}
	return best
}

func keyByTag(keys []*Key, tag uint16) *Key {
	for _, k := range keys {
		if k.Tag() == tag {
			return k
		}
	}
	return nil
}

func rrsigOf(rrs []dns.RR) *dns.RRSIG {
	for _, rr := range rrs {
		if s, ok := rr.(*dns.RRSIG); ok {
			return s
		}
	}
	return nil
}

func withoutRRSIG(rrs []dns.RR) []dns.RR {
	return slices.DeleteFunc(slices.Clone(rrs), func(rr dns.RR) bool { return rr.Header().Rrtype == dns.TypeRRSIG })
}

func withoutDNSSEC(rrs []dns.RR) []dns.RR {
	return slices.DeleteFunc(slices.Clone(rrs), func(rr dns.RR) bool {
		t := rr.Header().Rrtype
		return t == dns.TypeRRSIG || t == dns.TypeNSEC
	})
}

func withoutOPT(rrs []dns.RR) []dns.RR {
	return slices.DeleteFunc(slices.Clone(rrs), func(rr dns.RR) bool { return rr.Header().Rrtype == dns.TypeOPT })
}

func countType(m *dns.Msg, t uint16) int {
	n := 0
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			if rr.Header().Rrtype == t {
				n++
			}
		}
	}
	return n
}

func TestSigCache(t *testing.T) {
	c := newSigCache(100)
	entry := func(i int, refresh int64) *sigEntry {
		return &sigEntry{key: sigKey{zone: "z.", owner: fmt.Sprint(i), h1: uint64(i), h2: uint64(i * 7)}, sigs: []dns.RR{&dns.RRSIG{}}, refresh: refresh}
	}
	for i := range 1000 {
		c.put(entry(i, 100), 0)
	}
	if n := c.len(); n > 100 {
		t.Errorf("cache of 100 holds %d", n)
	}
	e := entry(5000, 100)
	c.put(e, 0)
	if got := c.get(&e.key, 99); got == nil {
		t.Error("get after put: miss")
	}
	if got := c.get(&e.key, 100); got != nil {
		t.Error("get at refresh time: hit")
	}
	// Second chance: an entry used since the last sweep survives the
	// next insertion into its full set.
	c = newSigCache(cacheWays) // one set
	hot := entry(0, 1000)
	c.put(hot, 0)
	for i := 1; i < cacheWays; i++ {
		c.put(entry(i, 100), 0)
	}
	c.get(&hot.key, 1)
	c.put(entry(99, 100), 1)
	if c.get(&hot.key, 1) == nil {
		t.Error("hot entry evicted")
	}
	// Entries due for refresh go first, used or not.
	c.put(entry(100, 1000), 150)
	if c.get(&hot.key, 1) == nil {
		t.Error("hot entry evicted before stale ones")
	}
	if diff := cmp.Diff(cacheWays, c.len()); diff != "" {
		t.Errorf("len (-want +got):\n%s", diff)
	}
}

// TestSignedWire sends signed queries over UDP and TCP, concurrently, so
// that the race detector sees the shared cache and signatures.
func TestSignedWire(t *testing.T) {
	ss := newSignedServer(t, nil, "gslb.example.")
	addr := ss.serve(t)
	for _, proto := range protos {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			for i := range 20 {
				for _, q := range []struct {
					name  string
					qtype uint16
				}{{"www.gslb.example.", dns.TypeA}, {"nope.gslb.example.", dns.TypeA}, {"gslb.example.", dns.TypeNS}, {fmt.Sprintf("n%d.gslb.example.", i), dns.TypeTXT}} {
					resp := exchange(t, proto, addr, doMsg(q.name, q.qtype, "198.51.100.0/24"))
					if resp.Rcode != dns.RcodeSuccess || !resp.IsEdns0().Do() {
						t.Fatalf("%s %s: rcode %s, DO %v", q.name, dns.TypeToString[q.qtype], rcodeName(resp.Rcode), resp.IsEdns0().Do())
					}
					verifySigned(t, resp, ss.keys, time.Now())
				}
			}
		})
	}
}
