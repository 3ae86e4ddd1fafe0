package e2e

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"
)

var protos = []string{"udp", "tcp"}

// The demo places the documentation ranges on three continents.
var continents = []struct {
	name, subnet, want string
}{
	{"europe", "192.0.2.0/24", "127.0.0.11"},
	{"america", "198.51.100.0/24", "127.0.0.12"},
	{"asia", "203.0.113.0/24", "127.0.0.13"},
}

// TestGeoAnswers: a query with ECS from each continent gets its nearest
// region, with the ECS scope of the operator network that placed it.
func TestGeoAnswers(t *testing.T) {
	c := newCluster(t)
	c.seedDemo()
	n := c.startDNS("")
	for _, proto := range protos {
		for _, tc := range continents {
			t.Run(proto+"/"+tc.name, func(t *testing.T) {
				r := query(t, proto, n.addr, "www.gslb.example.", dns.TypeA, tc.subnet)
				if r.Rcode != dns.RcodeSuccess || !r.Authoritative || r.RecursionAvailable {
					t.Fatalf("rcode %s AA %v RA %v, want NOERROR AA RA clear", dns.RcodeToString[r.Rcode], r.Authoritative, r.RecursionAvailable)
				}
				if got := join(answerAddrs(r)); got != tc.want {
					t.Errorf("www A for %s = %q, want %q", tc.subnet, got, tc.want)
				}
				if scope, ok := ecsScope(r); !ok || scope != 24 {
					t.Errorf("ECS scope = %d (present %v), want 24", scope, ok)
				}
			})
		}
	}
}

// TestPolicyChangesApplyLive: plain puts change answers within a second,
// without a restart; bad puts are rejected and the last good state keeps
// serving; a deleted service is NXDOMAIN.
func TestPolicyChangesApplyLive(t *testing.T) {
	c := newCluster(t)
	c.seedDemo()
	n := c.startDNS("")
	europe := func() string {
		return join(answerAddrs(query(t, "udp", n.addr, "www.gslb.example.", dns.TypeA, "192.0.2.0/24")))
	}
	if got := europe(); got != "127.0.0.11" {
		t.Fatalf("before: europe gets %q, want 127.0.0.11", got)
	}

	// Send Europe to us-east with an override.
	c.put("services/www.gslb.example.", `{"policy":"geo","regions":["eu-west","us-east","ap-southeast"],"ttl":"10s","overrides":[{"continents":["EU"],"regions":["us-east"]}]}`)
	took := eventually(t, time.Second, "override applied", func() (bool, string) {
		got := europe()
		return got == "127.0.0.12", got
	})
	t.Logf("put -> new answer in %s", took)

	rejected := func(key string) func() (bool, string) {
		return func() (bool, string) {
			r := n.store.Status().Rejected
			_, ok := r[key]
			return ok, "rejected: " + join(keysOf(r))
		}
	}
	// Malformed JSON: rejected, previous answer still served.
	c.put("services/www.gslb.example.", `{"policy":"geo","regions":["eu-west"`)
	eventually(t, 5*time.Second, "malformed put rejected", rejected(c.prefix+"services/www.gslb.example."))
	if got := europe(); got != "127.0.0.12" {
		t.Errorf("after malformed put: europe gets %q, want the last good 127.0.0.12", got)
	}
	// A typo'd field: rejected too.
	c.put("services/www.gslb.example.", `{"policy":"geo","regions":["eu-west"],"fallbak":"all"}`)
	eventually(t, 5*time.Second, "unknown field rejected", func() (bool, string) {
		r := n.store.Status().Rejected[c.prefix+"services/www.gslb.example."]
		return contains(r, "fallbak"), r
	})
	if got := europe(); got != "127.0.0.12" {
		t.Errorf("after put with unknown field: europe gets %q, want 127.0.0.12", got)
	}
	// A reference to a region that does not exist: rejected.
	c.put("services/www.gslb.example.", `{"policy":"geo","regions":["eu-west","mars-north"]}`)
	eventually(t, 5*time.Second, "unknown region rejected", func() (bool, string) {
		r := n.store.Status().Rejected[c.prefix+"services/www.gslb.example."]
		return contains(r, "mars-north"), r
	})
	if got := europe(); got != "127.0.0.12" {
		t.Errorf("after put with unknown region: europe gets %q, want 127.0.0.12", got)
	}
	if v := counterValue(t, n.reg, "meridian_config_rejected_total"); v < 3 {
		t.Errorf("meridian_config_rejected_total = %v, want >= 3", v)
	}

	// Delete the service: NXDOMAIN with the SOA.
	c.del("services/www.gslb.example.")
	eventually(t, time.Second, "deleted service is NXDOMAIN", func() (bool, string) {
		r := query(t, "udp", n.addr, "www.gslb.example.", dns.TypeA, "192.0.2.0/24")
		return r.Rcode == dns.RcodeNameError && len(r.Ns) == 1 && r.Ns[0].Header().Rrtype == dns.TypeSOA, r.String()
	})
}

// TestColdStartFromDisk: a server restarted while etcd is down answers
// from the state it wrote to disk.
func TestColdStartFromDisk(t *testing.T) {
	c := newCluster(t)
	etcdRequireEmbedded(t, c)
	c.seedDemo()
	state := filepath.Join(t.TempDir(), "dns.state.json")
	n := c.startDNS(state)
	c.put("services/www.gslb.example.", `{"policy":"failover","regions":["ap-southeast","eu-west"]}`)
	eventually(t, 2*time.Second, "failover policy applied", func() (bool, string) {
		got := join(answerAddrs(query(t, "udp", n.addr, "www.gslb.example.", dns.TypeA, "192.0.2.0/24")))
		return got == "127.0.0.13", got
	})
	n.stop() // writes the state file on the way out
	c.etcd.Stop()

	n2 := c.startDNS(state)
	if src := n2.store.Status().Source; src != "disk" {
		t.Errorf("store source = %q, want disk", src)
	}
	for _, proto := range protos {
		r := query(t, proto, n2.addr, "www.gslb.example.", dns.TypeA, "192.0.2.0/24")
		if got := join(answerAddrs(r)); got != "127.0.0.13" {
			t.Errorf("%s: from disk, www A = %q, want 127.0.0.13", proto, got)
		}
		if scope, _ := ecsScope(r); scope != 0 {
			t.Errorf("%s: failover answer scope = %d, want 0", proto, scope)
		}
	}
}
