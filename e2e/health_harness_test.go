package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/gslb/store"
	"github.com/meridian-gslb/meridian/probes"
	"github.com/meridian-gslb/meridian/probes/prober"
	"github.com/meridian-gslb/meridian/regionproxy"
)

// backend is a real HTTP upstream the test controls: it can be killed
// (listener and connections closed) and restarted on the same address, and
// told to fail health checks from given source addresses (a vantage point
// that cannot reach the region).
type backend struct {
	name    string
	addr    string
	blocked sync.Map // X-Forwarded-For value -> true: /healthz answers 503
	served  atomic.Int64

	mu  sync.Mutex
	srv *http.Server
}

func newBackend(t testing.TB, name string) *backend {
	t.Helper()
	b := &backend{name: name, addr: "127.0.0.1:0"}
	b.start(t)
	t.Cleanup(b.kill)
	return b
}

func (b *backend) start(t testing.TB) {
	t.Helper()
	var ln net.Listener
	var err error
	// The port may linger briefly after a kill; retry for a moment.
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err = net.Listen("tcp", b.addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // poll interval of a deadline-bounded retry
	}
	if err != nil {
		t.Fatalf("backend %s: %v", b.name, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.addr = ln.Addr().String()
	b.srv = &http.Server{Handler: b, ReadHeaderTimeout: 5 * time.Second}
	go func(s *http.Server) { _ = s.Serve(ln) }(b.srv)
}

// kill closes the listener and every connection at once, as a crash would.
func (b *backend) kill() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		_ = b.srv.Close()
		b.srv = nil
	}
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		if _, blocked := b.blocked.Load(r.Header.Get("X-Forwarded-For")); blocked {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
		return
	}
	b.served.Add(1)
	fmt.Fprintf(w, "backend %s", b.name)
}

// proxyNode is a running `meridian proxy` with its own etcd client, store
// and heartbeat publisher, as a separate process would have.
type proxyNode struct {
	region string
	addr   netip.Addr
	ln     net.Listener
	url    string
	cli    *clientv3.Client
	st     *store.Store
	pub    *store.Publisher
	p      *regionproxy.Proxy

	serveCancel, bgCancel context.CancelFunc
	served                chan struct{} // closed when Serve and Run have returned
	done                  chan struct{} // closed when everything has returned
	stopOnce              sync.Once
}

// world is three regions with a proxy and two backends each, a DNS server,
// and optionally probers, on loopback.
type world struct {
	*cluster
	dns      *dnsNode
	backends map[string][]*backend
	proxies  map[string]*proxyNode
	lns      map[string]net.Listener
}

var worldRegions = []struct {
	name, ip, country string
	lat, lon          float64
}{
	{"eu-west", "127.0.0.11", "IE", 53.35, -6.26},
	{"us-east", "127.0.0.12", "US", 38.9, -77.04},
	{"ap-southeast", "127.0.0.13", "SG", 1.29, 103.85},
}

// fastCheck is the tests' probe setting: 200ms interval, down after two
// failures, up after one success.
const fastCheck = `{"kind":"http","path":"/healthz","interval":"200ms","timeout":"200ms","rise":1,"fall":2}`

type worldOptions struct {
	leaseTTL time.Duration
	drain    time.Duration
	// check is the probe setting of regions and pools (fastCheck if "").
	check string
}

func newWorld(t testing.TB, o worldOptions) *world {
	t.Helper()
	if o.check == "" {
		o.check = fastCheck
	}
	if o.leaseTTL == 0 {
		o.leaseTTL = 2 * time.Second
	}
	w := &world{cluster: newCluster(t), backends: map[string][]*backend{}, proxies: map[string]*proxyNode{}, lns: map[string]net.Listener{}}
	w.put("zones/gslb.example.", `{"nameservers":[{"name":"ns1.gslb.example.","ipv4":["127.0.0.1"]}]}`)
	w.put("geo/networks/doc-eu", `{"cidrs":["192.0.2.0/24"],"country":"FR"}`)
	w.put("geo/networks/doc-na", `{"cidrs":["198.51.100.0/24"],"country":"US"}`)
	w.put("geo/networks/doc-as", `{"cidrs":["203.0.113.0/24"],"country":"JP"}`)
	var names []string
	for _, r := range worldRegions {
		names = append(names, `"`+r.name+`"`)
		ln, err := net.Listen("tcp", r.ip+":0")
		if err != nil {
			t.Fatalf("listen on %s (Linux routes all of 127/8 to lo): %v", r.ip, err)
		}
		t.Cleanup(func() { ln.Close() })
		w.lns[r.name] = ln
		port := ln.Addr().(*net.TCPAddr).Port
		w.put("regions/"+r.name, fmt.Sprintf(`{"location":{"lat":%g,"lon":%g},"country":%q,"proxies":[%q],"http_port":%d,"check":%s}`,
			r.lat, r.lon, r.country, r.ip, port, o.check))
		var addrs []string
		for i := range 2 {
			b := newBackend(t, fmt.Sprintf("%s-%d", r.name, i+1))
			w.backends[r.name] = append(w.backends[r.name], b)
			addrs = append(addrs, fmt.Sprintf(`{"address":%q}`, b.addr))
		}
		spill := "us-east"
		if r.name == "us-east" {
			spill = "eu-west"
		}
		w.put("pools/"+r.name+"/web", fmt.Sprintf(`{"hosts":["*"],"backends":[%s],"check":%s,"retries":2,"spillover":[%q]}`,
			strings.Join(addrs, ","), o.check, spill))
	}
	w.put("services/www.gslb.example.", `{"policy":"geo","regions":[`+strings.Join(names, ",")+`],"ttl":"1s"}`)
	w.dns = w.startDNS("")
	for _, r := range worldRegions {
		w.proxies[r.name] = w.startProxy(r.name, netip.MustParseAddr(r.ip), w.lns[r.name], o.leaseTTL, o.drain)
	}
	return w
}

func (c *cluster) startProxyIn(region string, addr netip.Addr, ln net.Listener, leaseTTL, drain time.Duration) *proxyNode {
	t := c.t
	t.Helper()
	cli, err := c.etcd.Client()
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	st, err := store.New(store.Options{Client: cli, Prefix: c.prefix, Validators: validators(), Logger: testLogger(t), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	pub := store.NewPublisher(cli, leaseTTL, testLogger(t))
	key := c.prefix + gslb.Key{Kind: gslb.KindProxyStatus, Parent: region, Name: "px-" + addr.String()}.String()
	p, err := regionproxy.New(regionproxy.Options{
		Region: region, Instance: "px-" + addr.String(), Advertise: addr,
		Snapshot: st.Snapshot, Changed: st.Changed,
		Publish: func(s gslb.ProxyStatus) {
			b, _ := json.Marshal(s)
			pub.Set(key, b)
		},
		DrainPeriod: drain, ShutdownGrace: 5 * time.Second,
		Logger: testLogger(t), Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	n := &proxyNode{region: region, addr: addr, ln: ln, url: "http://" + ln.Addr().String(), cli: cli, st: st, pub: pub, p: p, served: make(chan struct{}), done: make(chan struct{})}
	bg, bgCancel := context.WithCancel(context.Background())
	serveCtx, serveCancel := context.WithCancel(context.Background())
	n.bgCancel, n.serveCancel = bgCancel, serveCancel
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); _ = st.Run(bg) }()
	go func() { defer wg.Done(); _ = pub.Run(bg) }()
	go func() {
		defer wg.Done()
		defer close(n.served)
		select {
		case <-st.Ready():
		case <-bg.Done():
			return
		}
		runDone := make(chan struct{})
		runCtx, stopRun := context.WithCancel(bg)
		go func() { _ = p.Run(runCtx); close(runDone) }()
		_ = p.Serve(serveCtx, ln)
		stopRun()
		<-runDone
	}()
	go func() { wg.Wait(); close(n.done) }()
	t.Cleanup(n.stop)
	return n
}

func (w *world) startProxy(region string, addr netip.Addr, ln net.Listener, leaseTTL, drain time.Duration) *proxyNode {
	return w.startProxyIn(region, addr, ln, leaseTTL, drain)
}

// stop shuts the proxy down cleanly: drain, finish, revoke the lease.
func (n *proxyNode) stop() {
	n.stopOnce.Do(func() {
		n.serveCancel()
		waitChan(n.served, 30*time.Second)
		n.bgCancel()
		waitChan(n.done, 30*time.Second)
		_ = n.cli.Close()
	})
}

// kill stops the proxy as kill -9 would: its etcd connection drops without
// a lease revoke, and its listener closes.
func (n *proxyNode) kill() {
	n.stopOnce.Do(func() {
		_ = n.cli.Close()
		n.bgCancel()
		n.serveCancel()
		n.ln.Close()
		waitChan(n.done, 30*time.Second)
	})
}

func waitChan(c <-chan struct{}, d time.Duration) {
	select {
	case <-c:
	case <-time.After(d):
	}
}

// answer is the A answer a client in subnet gets.
func (w *world) answer(t testing.TB, subnet string) string {
	t.Helper()
	return join(answerAddrs(query(t, "udp", w.dns.addr, "www.gslb.example.", dns.TypeA, subnet)))
}

func (w *world) waitAnswer(t testing.TB, within time.Duration, subnet, want, what string) time.Duration {
	t.Helper()
	return eventually(t, within, what, func() (bool, string) {
		got := w.answer(t, subnet)
		return got == want, "answer " + got
	})
}

// startProber runs a prober whose checks leave from source (a vantage
// point); its verdicts live on their own lease.
func (c *cluster) startProber(id string, source netip.Addr, leaseTTL time.Duration) (stop func()) {
	stop, _ = c.startProberPub(id, source, leaseTTL)
	return stop
}

// startProberPub is startProber that also returns the prober's publisher
// (to count its etcd writes).
func (c *cluster) startProberPub(id string, source netip.Addr, leaseTTL time.Duration) (stop func(), pub *store.Publisher) {
	t := c.t
	t.Helper()
	cli, err := c.etcd.Client()
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New(store.Options{Client: cli, Prefix: c.prefix, Validators: validators(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	pub = store.NewPublisher(cli, leaseTTL, testLogger(t))
	p, err := prober.New(prober.Options{
		ID: id, Prefix: c.prefix, Snapshot: st.Snapshot, Changed: st.Changed, Sink: pub,
		Logger: testLogger(t), CheckerOptions: probes.CheckerOptions{SourceAddr: source},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); _ = st.Run(ctx) }()
	go func() { defer wg.Done(); _ = pub.Run(ctx) }()
	go func() {
		defer wg.Done()
		select {
		case <-st.Ready():
			_ = p.Run(ctx)
		case <-ctx.Done():
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait(); _ = cli.Close() }) }
	_ = errNot200
	t.Cleanup(stop)
	return stop, pub
}

// get fetches url with a fresh connection per request, so a killed
// backend is noticed by the proxy, not hidden by client keep-alive.
func get(client *http.Client, url string) (int, string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

var errNot200 = errors.New("not 200")
