package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/gslb/geo"
	"golang.org/x/sync/errgroup"
)

func runDNS(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := newFlagSet("dns", stderr)
	var nf nodeFlags
	nf.register(fs, "dns", "127.0.0.1:9153")
	listen := fs.String("listen", ":53", "comma-separated addresses to serve DNS on, UDP and TCP (\"[::]:53,0.0.0.0:53\")")
	geoip := fs.String("geoip", "", "GeoIP2/GeoLite2 City or Country database (mmdb); empty: operator networks only")
	host, _ := os.Hostname()
	nsid := fs.String("nsid", host, "NSID (RFC 5001) to answer with, so operators can tell servers apart; empty disables")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	n, err := nf.open("dns", stderr)
	if err != nil {
		return err
	}
	defer n.close()

	var db geo.Locator
	if *geoip != "" {
		m, err := geo.OpenMMDB(*geoip)
		if err != nil {
			return fmt.Errorf("--geoip: %w", err)
		}
		defer m.Close()
		db = m
		n.logger.Info("geoip database loaded", "component", "dns", "path", *geoip, "type", m.DatabaseType())
	}
	srv, err := dnsserver.New(dnsserver.Options{
		Snapshot:   n.store.Snapshot,
		Geo:        db,
		Logger:     n.logger.With("component", "dnsserver"),
		Registerer: n.reg,
		NSID:       *nsid,
	})
	if err != nil {
		return err
	}
	ln, err := listenAdmin(nf.admin)
	if err != nil {
		return err
	}
	var listening atomic.Bool
	ready := func() (bool, any) {
		st := n.store.Status()
		ok := n.store.Snapshot() != nil && listening.Load()
		return ok, map[string]any{"ready": ok, "store": st}
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return n.store.Run(ctx) })
	if ln != nil {
		a := &admin{reg: n.reg, logger: n.logger, ready: ready}
		g.Go(func() error { return a.serve(ctx, ln) })
	}
	g.Go(func() error {
		if err := waitReady(ctx, n.store); err != nil {
			return nil
		}
		addrs := strings.Split(*listen, ",")
		n.logger.Info("serving DNS", "component", "dns", "listen", addrs)
		return srv.ListenAndServe(ctx, addrs, func() { listening.Store(true) })
	})
	return ignoreCanceled(g.Wait())
}
