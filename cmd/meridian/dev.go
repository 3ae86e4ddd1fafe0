package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/meridian-gslb/meridian/deploy/demo"
	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/gslb/store"
	"github.com/meridian-gslb/meridian/gslb/store/embedetcd"
	"github.com/meridian-gslb/meridian/probes/prober"
	"github.com/meridian-gslb/meridian/regionproxy"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
)

// devConfig is where the dev mode puts things. Defaults are the demo every
// newcomer meets: etcd on the standard client port so plain etcdctl works,
// DNS on 5353 so no root is needed, a proxy per region on its own loopback
// address.
type devConfig struct {
	etcdURL     string
	dns         string
	admin       string
	dataDir     string
	noCheat     bool
	proxyPort   int
	backendBase int
	// self is how the cheat sheet calls this binary.
	self string
}

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dev", stderr)
	var c devConfig
	var lf logFlags
	lf.register(fs, "text")
	fs.StringVar(&c.etcdURL, "etcd-listen", "http://127.0.0.1:2379", "client URL of the embedded etcd (loopback only)")
	fs.StringVar(&c.dns, "dns", "127.0.0.1:5353", "DNS listen address (UDP and TCP)")
	fs.StringVar(&c.admin, "admin", "127.0.0.1:9153", "admin HTTP address (/metrics, /healthz, /readyz)")
	fs.StringVar(&c.dataDir, "data-dir", "", "etcd data and state directory (default: a new temporary directory, removed on exit)")
	fs.BoolVar(&c.noCheat, "no-cheat-sheet", false, "do not print the cheat sheet")
	fs.IntVar(&c.proxyPort, "proxy-port", 8080, "HTTP port of the demo proxies (on 127.0.0.11, .12, .13)")
	fs.IntVar(&c.backendBase, "backend-port-base", 9100, "demo backends listen on 127.0.0.1 at this base + 11, 12, 21, 22, 31, 32")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if c.self == "" {
		c.self = "meridian"
		if exe, err := os.Executable(); err == nil {
			c.self = exe
		}
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	return devMain(ctx, c, logger, stdout)
}

// devMain runs the dev mode with a parsed configuration.
func devMain(ctx context.Context, c devConfig, logger *slog.Logger, stdout io.Writer) error {
	if c.dataDir == "" {
		dir, err := os.MkdirTemp("", "meridian-dev-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		c.dataDir = dir
	}
	policy, err := devPolicy(c)
	if err != nil {
		return fmt.Errorf("demo policy: %w", err)
	}
	// Bind every listener before anything starts, so a port clash is one
	// clear error and not a half-started demo.
	ls, err := bindDev(c, policy)
	if err != nil {
		return err
	}
	defer ls.close()

	etcd, err := embedetcd.Start(ctx, embedetcd.Config{Dir: c.dataDir + "/etcd", ClientURL: c.etcdURL, Logger: logger.With("component", "etcd")})
	if err != nil {
		return fmt.Errorf("embedded etcd on %s: %w (is another etcd or `meridian dev` running? try --etcd-listen http://127.0.0.1:12379)", c.etcdURL, err)
	}
	defer etcd.Stop()
	cli, err := etcd.Client()
	if err != nil {
		return err
	}
	defer cli.Close()
	const prefix = "/meridian/"
	if _, err := store.Apply(ctx, cli, prefix, policy.values, nil); err != nil {
		return fmt.Errorf("seed demo policy: %w", err)
	}

	reg := newRegistry()
	st, err := store.New(store.Options{
		Client: cli, Prefix: prefix, Validators: validators(),
		StateFile: c.dataDir + "/dev.state.json",
		Logger:    logger.With("component", "store"), Registerer: reg,
	})
	if err != nil {
		return err
	}
	dns, err := dnsserver.New(dnsserver.Options{
		Snapshot: st.Snapshot, Logger: logger.With("component", "dnsserver"), Registerer: reg, NSID: "meridian-dev",
	})
	if err != nil {
		return err
	}
	// One lease for the demo's proxies and prober; each proxy has its own
	// key on it.
	pub := store.NewPublisher(cli, 5*time.Second, logger)
	prb, err := prober.New(prober.Options{
		ID: "dev", Prefix: prefix, Snapshot: st.Snapshot, Changed: st.Changed, Sink: pub,
		Logger: logger.With("component", "prober"), Registerer: reg,
	})
	if err != nil {
		return err
	}
	var proxies []*regionproxy.Proxy
	for _, r := range policy.regions {
		key := prefix + gslb.Key{Kind: gslb.KindProxyStatus, Parent: r.name, Name: "dev"}.String()
		p, err := regionproxy.New(regionproxy.Options{
			Region: r.name, Instance: "dev", Advertise: r.addr,
			Snapshot: st.Snapshot, Changed: st.Changed,
			Publish: func(s gslb.ProxyStatus) {
				if b, err := json.Marshal(s); err == nil {
					pub.Set(key, b)
				}
			},
			// The demo stops at once on Ctrl-C; production proxies wait
			// for resolvers to forget them.
			DrainPeriod:   0,
			ShutdownGrace: 2 * time.Second,
			Logger:        logger.With("component", "proxy", "region", r.name),
			Registerer:    prometheus.WrapRegistererWith(prometheus.Labels{"proxy": r.name}, reg),
		})
		if err != nil {
			return err
		}
		proxies = append(proxies, p)
	}

	var dnsUp atomic.Bool
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return st.Run(ctx) })
	g.Go(func() error { return pub.Run(ctx) })
	for _, b := range ls.backends {
		g.Go(func() error {
			<-ctx.Done()
			b.Stop()
			return nil
		})
	}
	a := &admin{reg: reg, logger: logger, ready: func() (bool, any) {
		settled := devSettled(st.Snapshot(), policy.regions)
		ok := dnsUp.Load() && settled
		return ok, map[string]any{"ready": ok, "dns": dnsUp.Load(), "health_settled": settled, "store": st.Status()}
	}}
	g.Go(func() error { return a.serve(ctx, ls.admin) })
	g.Go(func() error {
		if err := waitReady(ctx, st); err != nil {
			return nil
		}
		pg, pctx := errgroup.WithContext(ctx)
		pg.Go(func() error { return prb.Run(pctx) })
		for i, p := range proxies {
			pg.Go(func() error { return p.Run(pctx) })
			pg.Go(func() error { return p.Serve(pctx, ls.proxies[i]) })
		}
		pg.Go(func() error {
			return dns.ListenAndServe(pctx, []string{c.dns}, func() { dnsUp.Store(true) })
		})
		pg.Go(func() error {
			// Announce once DNS is up and the health data has settled, so
			// that the cheat sheet's first dig gets the steady answer.
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			giveUp := time.After(devSettleWait)
			waiting := true // for the health to settle
			for !dnsUp.Load() || waiting && !devSettled(st.Snapshot(), policy.regions) {
				select {
				case <-tick.C:
				case <-giveUp:
					waiting = false
					logger.Warn("demo health not settled yet: answers may still move", "waited", devSettleWait)
				case <-pctx.Done():
					return nil
				}
			}
			logger.Info("meridian dev is up", "dns", c.dns, "etcd", c.etcdURL, "admin", c.admin)
			if !c.noCheat {
				printCheatSheet(stdout, c, policy)
			}
			return nil
		})
		return pg.Wait()
	})
	return ignoreCanceled(g.Wait())
}

// devSettleWait bounds the wait for the demo's health to settle before
// the cheat sheet is printed anyway.
const devSettleWait = 15 * time.Second

// devSettled reports whether the demo's health data is complete: every
// region's proxy has heartbeated with all its backends up, and the
// prober has reported the proxy's address up. /readyz waits for it. Before
// that, answers can still move: with no health data in the keyspace at
// all every address counts as up, and the first results arrive one by one
// (a proxy whose backends are not yet checked answers the prober 503).
func devSettled(snap *gslb.Snapshot, regions []devRegion) bool {
	if snap == nil {
		return false
	}
	entries := snap.Entries()
	for _, r := range regions {
		rh, ok := snap.RegionHealth(r.name)
		if !ok || !rh.Heartbeats || rh.Total == 0 || rh.HealthyBackends != rh.Total {
			return false
		}
		k := gslb.Key{Kind: gslb.KindProbeStatus, Parent: "dev", Name: r.addr.String()}.String()
		e, ok := entries[k]
		if !ok {
			return false
		}
		if ps, _ := e.Value.(*gslb.ProbeStatus); ps == nil || !ps.Up {
			return false
		}
	}
	return true
}

type devRegion struct {
	name     string
	addr     netip.Addr
	backends []string
}

type devPolicyT struct {
	values  map[string][]byte
	regions []devRegion
}

// devPolicy is the demo policy with the ports of c: the regions' proxy
// port and check port, and the backends' ports.
func devPolicy(c devConfig) (*devPolicyT, error) {
	file, err := gslb.ParsePolicyFile(demo.Policy)
	if err != nil {
		return nil, err
	}
	out := &devPolicyT{values: map[string][]byte{}}
	for _, k := range slices.Sorted(maps.Keys(file)) {
		v := file[k]
		var m map[string]any
		if err := json.Unmarshal(v, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		switch {
		case strings.HasPrefix(k, "regions/"):
			m["http_port"] = c.proxyPort
			if chk, ok := m["check"].(map[string]any); ok {
				chk["port"] = c.proxyPort
			}
		case strings.HasPrefix(k, "pools/"):
			bs, _ := m["backends"].([]any)
			for _, b := range bs {
				bm := b.(map[string]any)
				host, port, err := net.SplitHostPort(bm["address"].(string))
				if err != nil {
					return nil, fmt.Errorf("%s: %w", k, err)
				}
				n, _ := strconv.Atoi(port)
				bm["address"] = net.JoinHostPort(host, strconv.Itoa(c.backendBase+n%100))
			}
		}
		if v, err = json.Marshal(m); err != nil {
			return nil, err
		}
		file[k] = v
	}
	canon, errs := checkPolicy(file, nil)
	if len(errs) > 0 {
		return nil, fmt.Errorf("%v", errs)
	}
	out.values = canon
	entries := map[string]gslb.Entry{}
	for k, v := range canon {
		e, err := gslb.Decode(k, v, validators())
		if err != nil {
			return nil, err
		}
		entries[k] = e
	}
	snap := gslb.Build(entries, 0)
	for _, name := range snap.Regions() {
		r := snap.Region(name)
		dr := devRegion{name: name, addr: r.Proxies[0]}
		for _, p := range snap.Pools(name) {
			for _, b := range p.Backends {
				dr.backends = append(dr.backends, b.Address)
			}
		}
		out.regions = append(out.regions, dr)
	}
	return out, nil
}

type devListeners struct {
	admin    net.Listener
	proxies  []net.Listener
	backends []*demo.Backend
}

func (l *devListeners) close() {
	if l.admin != nil {
		l.admin.Close()
	}
	for _, p := range l.proxies {
		p.Close()
	}
	for _, b := range l.backends {
		b.Stop()
	}
}

func bindDev(c devConfig, p *devPolicyT) (*devListeners, error) {
	l := &devListeners{}
	var err error
	if l.admin, err = net.Listen("tcp", c.admin); err != nil {
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	for _, r := range p.regions {
		addr := net.JoinHostPort(r.addr.String(), strconv.Itoa(c.proxyPort))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			l.close()
			return nil, fmt.Errorf("proxy of %s on %s: %w", r.name, addr, err)
		}
		l.proxies = append(l.proxies, ln)
		for i, ba := range r.backends {
			b := &demo.Backend{Region: r.name, Name: fmt.Sprintf("backend-%d", i+1), Addr: ba}
			if err := b.Start(); err != nil {
				l.close()
				return nil, err
			}
			l.backends = append(l.backends, b)
		}
	}
	return l, nil
}

// cheatStep is one line of the cheat sheet: a command to paste and, when
// it has one, what its output should contain (the cheat sheet test runs
// every step and checks it).
type cheatStep struct {
	say    string
	cmd    string
	expect string
}

func cheatSheet(c devConfig, p *devPolicyT) []cheatStep {
	host, port, _ := net.SplitHostPort(c.dns)
	dig := fmt.Sprintf("dig @%s -p %s", host, port)
	etcdctl := "etcdctl --endpoints " + c.etcdURL
	var eu devRegion
	for _, r := range p.regions {
		if r.name == "eu-west" {
			eu = r
		}
	}
	proxyOf := func(r string) string {
		for _, x := range p.regions {
			if x.name == r {
				return x.addr.String()
			}
		}
		return ""
	}
	steps := []cheatStep{
		{say: "Where does a client in Europe, America, Asia go? (ECS from the documentation ranges)"},
		{cmd: dig + " www.gslb.example +subnet=192.0.2.1/24 +short", expect: proxyOf("eu-west")},
		{cmd: dig + " www.gslb.example +subnet=198.51.100.1/24 +short", expect: proxyOf("us-east")},
		{cmd: dig + " www.gslb.example +subnet=203.0.113.1/24 +short", expect: proxyOf("ap-southeast")},
		{say: "Why?"},
		{cmd: c.self + " explain www.gslb.example --client 192.0.2.1/24 --etcd-endpoints " + c.etcdURL, expect: "nearest usable region: eu-west"},
		{say: "Through the answered proxy to a backend (the answer names region and backend):"},
		{cmd: fmt.Sprintf("curl -s http://www.gslb.example:%d/ --resolve www.gslb.example:%d:$(%s www.gslb.example +subnet=192.0.2.1/24 +short | head -1)", c.proxyPort, c.proxyPort, dig), expect: "hello from region eu-west"},
		{say: "The policy is plain JSON in etcd:"},
		{cmd: etcdctl + " get --prefix /meridian/ --keys-only", expect: "/meridian/services/www.gslb.example."},
		{cmd: etcdctl + " get --print-value-only /meridian/services/www.gslb.example.", expect: `"policy":"geo"`},
		{say: "Take eu-west's backends down (they answer 503): within seconds Europe moves to us-east"},
	}
	for _, b := range eu.backends {
		steps = append(steps, cheatStep{cmd: "curl -s -X POST http://" + b + "/demo/fail", expect: "now fails"})
	}
	steps = append(steps,
		cheatStep{cmd: dig + " www.gslb.example +subnet=192.0.2.1/24 +short", expect: proxyOf("us-east")},
		cheatStep{cmd: fmt.Sprintf("curl -s http://%s:%d/ -H 'Host: www.gslb.example'", proxyOf("eu-west"), c.proxyPort), expect: "hello from region us-east"},
		cheatStep{say: "(the eu-west proxy itself spills over to us-east meanwhile) ... and bring them back:"},
	)
	for _, b := range eu.backends {
		steps = append(steps, cheatStep{cmd: "curl -s -X POST http://" + b + "/demo/recover", expect: "recovered"})
	}
	steps = append(steps,
		cheatStep{cmd: dig + " www.gslb.example +subnet=192.0.2.1/24 +short", expect: proxyOf("eu-west")},
		cheatStep{say: "Or with etcdctl: disable eu-west, watch, enable it again"},
		cheatStep{cmd: etcdctl + ` put /meridian/regions/eu-west '` + regionJSON(p, "eu-west", true) + `'`, expect: "OK"},
		cheatStep{cmd: dig + " www.gslb.example +subnet=192.0.2.1/24 +short", expect: proxyOf("us-east")},
		cheatStep{cmd: etcdctl + ` put /meridian/regions/eu-west '` + regionJSON(p, "eu-west", false) + `'`, expect: "OK"},
		cheatStep{cmd: dig + " www.gslb.example +subnet=192.0.2.1/24 +short", expect: proxyOf("eu-west")},
		cheatStep{say: fmt.Sprintf("Metrics: curl -s http://%s/metrics | grep meridian_dns_queries_total", c.admin)},
		cheatStep{say: "Ctrl-C stops everything."},
	)
	return steps
}

func regionJSON(p *devPolicyT, name string, disabled bool) string {
	var m map[string]any
	_ = json.Unmarshal(p.values["regions/"+name], &m)
	if disabled {
		m["disabled"] = true
	} else {
		delete(m, "disabled")
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func printCheatSheet(w io.Writer, c devConfig, p *devPolicyT) {
	fmt.Fprintf(w, "\nMeridian dev mode: etcd %s, DNS %s, admin http://%s\n", c.etcdURL, c.dns, c.admin)
	for _, r := range p.regions {
		fmt.Fprintf(w, "  region %-13s proxy %s:%d  backends %s\n", r.name, r.addr, c.proxyPort, strings.Join(r.backends, " "))
	}
	for _, s := range cheatSheet(c, p) {
		if s.say != "" {
			fmt.Fprintf(w, "\n%s\n", s.say)
			continue
		}
		fmt.Fprintf(w, "  %s\n", s.cmd)
	}
	fmt.Fprintln(w)
}
