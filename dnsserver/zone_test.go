package dnsserver

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

func TestCheckRecord(t *testing.T) {
	const origin = "gslb.example."
	good := []string{
		"mail 300 IN MX 10 mx.example.net.",
		"@ IN MX 10 mail",
		"www.gslb.example. 60 IN TXT \"hello\"",
		"WWW.GSLB.EXAMPLE. 60 IN TXT \"upper case owner\"",
		"@ IN CAA 0 issue \"letsencrypt.org\"",
		"_sip._tcp 300 IN SRV 10 5 5060 sip.example.net.",
		"alias IN CNAME www",
		"*.wild IN A 192.0.2.1",
		"v6 IN AAAA 2001:db8::1",
		"txt IN TXT \"a\" \"b\"",
		"x IN HTTPS 1 . alpn=h2",
		"x IN TYPE65280 \\# 2 abcd",
	}
	for _, text := range good {
		if err := CheckRecord(origin, text); err != nil {
			t.Errorf("CheckRecord(%q) = %v, want nil", text, err)
		}
	}
	bad := []struct{ text, why string }{
		{"", "no record"},
		{"   ", "no record"},
		{"mail 300 IN MX", "MX"},
		{"a IN A 192.0.2.1\nb IN A 192.0.2.2", "more than one"},
		{"$TTL 60\na IN A 192.0.2.1", "directives"},
		{"$INCLUDE /etc/passwd", "directives"},
		{"$GENERATE 1-100000 host$ A 192.0.2.$", "directives"},
		{"$ORIGIN example.com.\na IN A 192.0.2.1", "directives"},
		{"www.example.com. IN A 192.0.2.1", "outside the zone"},
		{"xgslb.example. IN A 192.0.2.1", "outside the zone"},
		{"a CH TXT \"x\"", "only IN"},
		{"@ IN SOA ns1 hostmaster 1 2 3 4 5", "SOA is generated"},
		{"@ IN NS ns3.example.net.", "nameservers"},
		{"sub IN NS ns.example.net.", "delegations"},
		{"d IN DNAME example.net.", "DNAME"},
		{"@ IN DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==", "DNSSEC records are not configured"},
		{"@ IN DS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118", "DNSSEC records are not configured"},
		{"@ IN CNAME www", "apex"},
		{"a.*.wild IN A 192.0.2.1", "wildcard"},
		{"*x IN A 192.0.2.1", "wildcard"},
		{"a 4294967295 IN A 192.0.2.1", "2^31-1"},
		{"a IN A 2001:db8::1", "A"},
	}
	for _, tc := range bad {
		err := CheckRecord(origin, tc.text)
		if err == nil || !errors.Is(err, ErrRecord) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("CheckRecord(%q) = %v, want ErrRecord mentioning %q", tc.text, err, tc.why)
		}
	}
}

// TestCompileConflicts checks what compile drops, and that the rest of the
// zone is served regardless.
func TestCompileConflicts(t *testing.T) {
	keys := testKeys()
	zone := map[string]any{
		"nameservers": []map[string]any{{"name": "ns1.gslb.example.", "ipv4": []string{"192.0.2.53"}}},
		"records": []string{
			"www IN A 192.0.2.99",          // a service: steering answers A
			"ns1 IN A 192.0.2.99",          // a nameserver: glue answers A
			"dup IN CNAME a.example.net.",  // two CNAMEs: first kept
			"dup IN CNAME b.example.net.",  //
			"both IN CNAME a.example.net.", // CNAME and other data: CNAME dropped
			"both IN TXT \"kept\"",
			"app IN CNAME a.example.net.", // CNAME at a service: dropped
			"x.sub IN TXT \"child zone\"", // belongs to sub.gslb.example.
			"ttl 100 IN TXT \"a\"",        // RRset TTLs: the lowest wins
			"ttl 50 IN TXT \"b\"",
			"same IN TXT \"x\"", // duplicates: one
			"same IN TXT \"x\"",
		},
	}
	b, _ := json.Marshal(zone)
	keys["zones/gslb.example."] = string(b)
	keys["zones/sub.gslb.example."] = `{"nameservers":[{"name":"ns.sub.gslb.example.","ipv4":["192.0.2.54"]}],"records":["x IN TXT \"child\""]}`
	keys["zones/deep.under.gslb.example."] = `{"nameservers":[{"name":"ns1.gslb.example."}]}`
	ts := newTestServer(t, nil)
	snap := buildSnapshot(t, keys, 50)
	c := ts.compile(snap)
	var reasons []string
	for _, p := range c.problems {
		reasons = append(reasons, p.reason)
	}
	if len(c.problems) != 6 {
		t.Errorf("%d problems, want 6:\n%s", len(c.problems), strings.Join(reasons, "\n"))
	}
	ts.snap.Store(snap)
	for _, tc := range []Case{
		{Name: "service A", Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "192.0.2.0/24", Answer: []string{wwwEU}, Scope: 24},
		{Name: "glue A", Qname: "ns1.gslb.example.", Qtype: dns.TypeA, Answer: []string{"ns1.gslb.example. 3600 IN A 192.0.2.53"}},
		{Name: "two CNAMEs", Qname: "dup.gslb.example.", Qtype: dns.TypeA, Answer: []string{"dup.gslb.example. 3600 IN CNAME a.example.net."}},
		{Name: "CNAME and data", Qname: "both.gslb.example.", Qtype: dns.TypeTXT, Answer: []string{`both.gslb.example. 3600 IN TXT "kept"`}},
		{Name: "CNAME at service", Qname: "app.gslb.example.", Qtype: dns.TypeA, Answer: []string{"app.gslb.example. 10 IN A 127.0.0.12"}},
		{Name: "child zone", Qname: "x.sub.gslb.example.", Qtype: dns.TypeTXT, Answer: []string{`x.sub.gslb.example. 3600 IN TXT "child"`}},
		{Name: "child apex", Qname: "sub.gslb.example.", Qtype: dns.TypeNS,
			Answer: []string{"sub.gslb.example. 3600 IN NS ns.sub.gslb.example."}, Extra: []string{"ns.sub.gslb.example. 3600 IN A 192.0.2.54"}},
		{Name: "child NXDOMAIN", Qname: "y.sub.gslb.example.", Qtype: dns.TypeTXT, Rcode: dns.RcodeNameError,
			Ns: []string{"sub.gslb.example. 30 IN SOA ns.sub.gslb.example. hostmaster.sub.gslb.example. 50 3600 900 1209600 30"}},
		// under.gslb.example. lies between two apexes: NODATA in the parent.
		{Name: "ENT between zones", Qname: "under.gslb.example.", Qtype: dns.TypeA,
			Ns: []string{"gslb.example. 30 IN SOA ns1.gslb.example. hostmaster.gslb.example. 50 3600 900 1209600 30"}},
		{Name: "TTLs", Qname: "ttl.gslb.example.", Qtype: dns.TypeTXT, Answer: []string{`ttl.gslb.example. 50 IN TXT "a"`, `ttl.gslb.example. 50 IN TXT "b"`}},
		{Name: "duplicates", Qname: "same.gslb.example.", Qtype: dns.TypeTXT, Answer: []string{`same.gslb.example. 3600 IN TXT "x"`}},
	} {
		t.Run(tc.name(), func(t *testing.T) {
			req := tc.Msg()
			tc.Check(t, req, ts.Resolve(req, netip.AddrPort{}, "udp"))
		})
	}
}

// TestGlueOnlyInZone checks that NS answers carry glue for in-zone
// nameservers only, A before AAAA.
func TestGlueOnlyInZone(t *testing.T) {
	keys := map[string]string{
		"zones/gslb.example.": `{"nameservers":[
			{"name":"ns1.gslb.example.","ipv6":["2001:db8::53"],"ipv4":["192.0.2.53"]},
			{"name":"ns.example.net.","ipv4":["198.51.100.1"]}]}`,
	}
	ts := newTestServer(t, nil)
	ts.snap.Store(buildSnapshot(t, keys, 1))
	resp := ts.Resolve(new(dns.Msg).SetQuestion("gslb.example.", dns.TypeNS), netip.AddrPort{}, "udp")
	var got []string
	for _, rr := range resp.Extra {
		got = append(got, rr.String())
	}
	want := []string{"ns1.gslb.example.\t3600\tIN\tA\t192.0.2.53", "ns1.gslb.example.\t3600\tIN\tAAAA\t2001:db8::53"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("glue (-want +got):\n%s", diff)
	}
}

// TestProblemsLoggedOnce checks that a bad record is logged when it
// appears, not again on every snapshot swap.
func TestProblemsLoggedOnce(t *testing.T) {
	var buf strings.Builder
	ts := newTestServer(t, func(o *Options) { o.Logger = slog.New(slog.NewTextHandler(&buf, nil)) })
	keys := testKeys()
	keys["zones/gslb.example."] = `{"nameservers":[{"name":"ns1.gslb.example.","ipv4":["192.0.2.53"]}],"records":["www IN A 192.0.2.99"]}`
	for rev := range int64(3) {
		ts.Prepare(buildSnapshot(t, keys, 100+rev))
	}
	if n := strings.Count(buf.String(), "static record not served"); n != 1 {
		t.Errorf("problem logged %d times over 3 snapshots, want 1:\n%s", n, buf.String())
	}
}
