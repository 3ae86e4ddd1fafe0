package e2e

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/meridian-gslb/meridian/deploy/demo"
	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/gslb/store"
	"github.com/meridian-gslb/meridian/gslb/store/embedetcd"
	"github.com/meridian-gslb/meridian/gslb/store/etcdtest"
)

// cluster is one test's etcd and keyspace.
type cluster struct {
	t      testing.TB
	etcd   *embedetcd.Server
	cli    *clientv3.Client
	prefix string
}

func newCluster(t testing.TB) *cluster {
	t.Helper()
	srv := etcdtest.New(t)
	return &cluster{t: t, etcd: srv, cli: etcdtest.Client(t, srv), prefix: etcdtest.Prefix(t)}
}

// seedDemo puts the dev mode's demo policy, as `meridian dev` does.
func (c *cluster) seedDemo() {
	c.t.Helper()
	file, err := gslb.ParsePolicyFile(demo.Policy)
	if err != nil {
		c.t.Fatal(err)
	}
	canon, errs := gslb.CheckPolicy(file, nil, validators())
	if len(errs) > 0 {
		c.t.Fatalf("demo policy: %v", errs)
	}
	if _, err := store.Apply(c.t.Context(), c.cli, c.prefix, canon, nil); err != nil {
		c.t.Fatal(err)
	}
}

// put writes a raw value with the plain client, as `etcdctl put` does:
// nothing validates it on the way in.
func (c *cluster) put(key, value string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 5*time.Second)
	defer cancel()
	if _, err := c.cli.Put(ctx, c.prefix+key, value); err != nil {
		c.t.Fatalf("put %s: %v", key, err)
	}
}

func (c *cluster) del(key string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 5*time.Second)
	defer cancel()
	if _, err := c.cli.Delete(ctx, c.prefix+key); err != nil {
		c.t.Fatalf("delete %s: %v", key, err)
	}
}

func validators() gslb.Validators {
	return gslb.Validators{Record: dnsserver.CheckRecord}
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() && os.Getenv("MERIDIAN_TEST_LOGS") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// dnsNode is a running `meridian dns`: store + server on 127.0.0.1:0.
type dnsNode struct {
	store *store.Store
	reg   *prometheus.Registry
	addr  string
	stop  func()
}

// startDNS starts a store and a DNS server over the cluster's keyspace.
// stateFile may be "" (no on-disk state).
func (c *cluster) startDNS(stateFile string) *dnsNode {
	c.t.Helper()
	reg := prometheus.NewRegistry()
	st, err := store.New(store.Options{
		Client: c.cli, Prefix: c.prefix, Validators: validators(),
		StateFile: stateFile, Logger: testLogger(c.t), Registerer: reg,
	})
	if err != nil {
		c.t.Fatal(err)
	}
	srv, err := dnsserver.New(dnsserver.Options{Snapshot: st.Snapshot, Logger: testLogger(c.t), Registerer: reg})
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	started := make(chan struct{})
	wg.Add(2)
	go func() { defer wg.Done(); _ = st.Run(ctx) }()
	go func() {
		defer wg.Done()
		select {
		case <-st.Ready():
		case <-ctx.Done():
			return
		}
		if err := srv.ListenAndServe(ctx, []string{"127.0.0.1:0"}, func() { close(started) }); err != nil {
			c.t.Errorf("ListenAndServe: %v", err)
		}
	}()
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		cancel()
		wg.Wait()
		c.t.Fatal("DNS server did not start within 20s")
	}
	n := &dnsNode{store: st, reg: reg, addr: srv.LocalAddrs()[0].String()}
	var once sync.Once
	n.stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	c.t.Cleanup(n.stop)
	return n
}

// query asks the server one question over proto, with ECS when subnet is
// not "".
func query(t testing.TB, proto, server, name string, qtype uint16, subnet string) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = false
	if subnet != "" {
		p := netip.MustParsePrefix(subnet)
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		o.SetUDPSize(1232)
		e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, SourceNetmask: uint8(p.Bits()), Address: net.IP(p.Addr().AsSlice())}
		e.Family = 1
		if p.Addr().Is6() {
			e.Family = 2
		}
		o.Option = append(o.Option, e)
		m.Extra = append(m.Extra, o)
	}
	cl := &dns.Client{Net: proto, Timeout: 2 * time.Second}
	r, _, err := cl.Exchange(m, server)
	if err != nil {
		t.Fatalf("query %s %s over %s: %v", name, dns.TypeToString[qtype], proto, err)
	}
	return r
}

// answerAddrs returns the A/AAAA addresses of a reply, sorted as given.
func answerAddrs(r *dns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *dns.A:
			out = append(out, v.A.String())
		case *dns.AAAA:
			out = append(out, v.AAAA.String())
		}
	}
	return out
}

func ecsScope(r *dns.Msg) (int, bool) {
	if o := r.IsEdns0(); o != nil {
		for _, opt := range o.Option {
			if e, ok := opt.(*dns.EDNS0_SUBNET); ok {
				return int(e.SourceScope), true
			}
		}
	}
	return 0, false
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		ok, state := cond()
		if ok {
			return time.Since(start)
		}
		last = state
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %s; last: %s", what, within, last)
		}
		<-tick.C
	}
}

func join(s []string) string { return strings.Join(s, ",") }
