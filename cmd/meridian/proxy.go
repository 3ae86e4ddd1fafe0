package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/gslb/store"
	"github.com/meridian-gslb/meridian/regionproxy"
	"golang.org/x/sync/errgroup"
)

func runProxy(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := newFlagSet("proxy", stderr)
	var nf nodeFlags
	nf.register(fs, "proxy", "127.0.0.1:9154")
	region := fs.String("region", "", "the region this proxy serves (regions/<region>); required")
	advertise := fs.String("advertise", "", "this proxy's address as listed in regions/<region>.proxies; required")
	listen := fs.String("listen", ":80", "HTTP listen address")
	host, _ := os.Hostname()
	instance := fs.String("instance", "", "instance id in status/proxies/<region>/<instance> (default hostname-port)")
	leaseTTL := fs.Duration("lease-ttl", 10*time.Second, "TTL of the heartbeat lease: a dead proxy leaves DNS answers this long after it dies")
	drain := fs.Duration("drain", -1, "on SIGTERM, how long to stay up while draining; -1: the longest TTL of the services that list this region")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *region == "" || *advertise == "" {
		fs.Usage()
		return fmt.Errorf("proxy: --region and --advertise are required: %w", errUsage)
	}
	adv, err := netip.ParseAddr(*advertise)
	if err != nil {
		return fmt.Errorf("--advertise: %w", err)
	}
	httpLn, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("HTTP listener: %w", err)
	}
	if *instance == "" {
		_, port, _ := net.SplitHostPort(httpLn.Addr().String())
		*instance = host + "-" + port
	}
	n, err := nf.open("proxy-"+*instance, stderr)
	if err != nil {
		httpLn.Close()
		return err
	}
	defer n.close()
	pub := store.NewPublisher(n.cli, *leaseTTL, n.logger.With("component", "publisher"))
	p, err := newRegionProxy(n, pub, *region, *instance, adv, *drain)
	if err != nil {
		httpLn.Close()
		return err
	}
	adminLn, err := listenAdmin(nf.admin)
	if err != nil {
		httpLn.Close()
		return err
	}
	return serveProxy(ctx, n, pub, p, httpLn, adminLn)
}

func newRegionProxy(n *node, pub *store.Publisher, region, instance string, adv netip.Addr, drain time.Duration) (*regionproxy.Proxy, error) {
	key := n.prefix + gslb.Key{Kind: gslb.KindProxyStatus, Parent: region, Name: instance}.String()
	if _, err := gslb.ParseKey(key[len(n.prefix):]); err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	return regionproxy.New(regionproxy.Options{
		Region: region, Instance: instance, Advertise: adv,
		Snapshot: n.store.Snapshot, Changed: n.store.Changed,
		Publish: func(st gslb.ProxyStatus) {
			b, err := json.Marshal(st)
			if err == nil {
				pub.Set(key, b)
			}
		},
		DrainPeriod: drain,
		Logger:      n.logger.With("component", "proxy", "region", region),
		Registerer:  n.reg,
	})
}

// serveProxy runs a proxy until ctx ends. The order on shutdown matters:
// the proxy drains and finishes in-flight requests first, and only then is
// the heartbeat lease revoked.
func serveProxy(ctx context.Context, n *node, pub *store.Publisher, p *regionproxy.Proxy, httpLn, adminLn net.Listener) error {
	g, gctx := errgroup.WithContext(context.Background())
	// The store and the publisher outlive ctx until the proxy has drained,
	// so the draining heartbeat reaches etcd.
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	g.Go(func() error { return n.store.Run(bg) })
	g.Go(func() error { return pub.Run(bg) })
	if adminLn != nil {
		a := &admin{reg: n.reg, logger: n.logger,
			ready: func() (bool, any) {
				ok := n.store.Snapshot() != nil && p.Healthy()
				return ok, map[string]any{"ready": ok, "status": p.Status(), "store": n.store.Status()}
			}}
		g.Go(func() error { return a.serve(bg, adminLn) })
	}
	g.Go(func() error {
		defer stopBG()
		select {
		case <-n.store.Ready():
		case <-ctx.Done():
			httpLn.Close()
			return nil
		case <-gctx.Done():
			httpLn.Close()
			return nil
		}
		runCtx, stopRun := context.WithCancel(bg)
		defer stopRun()
		done := make(chan error, 1)
		go func() { done <- p.Run(runCtx) }()
		err := p.Serve(ctx, httpLn)
		stopRun()
		return errors.Join(err, <-done)
	})
	return ignoreCanceled(g.Wait())
}
