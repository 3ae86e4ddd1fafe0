package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/gslb/geo"
	"golang.org/x/sync/errgroup"
)

func runDNS(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := newFlagSet("dns", stderr)
	var nf nodeFlags
	nf.register(fs, "dns", "127.0.0.1:9153")
	listen := fs.String("listen", ":53", "comma-separated addresses to serve DNS on, UDP and TCP; \":53\" is every IPv4 and IPv6 address, \"192.0.2.53:53,[2001:db8::53]:53\" specific ones")
	geoip := fs.String("geoip", "", "GeoIP2/GeoLite2 City or Country database (mmdb); empty: operator networks only")
	host, _ := os.Hostname()
	nsid := fs.String("nsid", host, "NSID (RFC 5001) to answer with, so operators can tell servers apart; empty disables")
	var pf protectionFlags
	pf.register(fs)
	dnssecKeys := fs.String("dnssec-keys", "", "directory of DNSSEC key pairs K<zone>+013+<tag>.key/.private ('meridian dnssec keygen'): zones with a key are signed for DO queries; empty: no DNSSEC")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	prot, err := pf.options()
	if err != nil {
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
	opts := prot
	opts.Snapshot = n.store.Snapshot
	opts.Geo = db
	opts.Logger = n.logger.With("component", "dnsserver")
	opts.Registerer = n.reg
	opts.NSID = *nsid
	if opts.DNSSEC, err = loadDNSSEC(*dnssecKeys, n.logger); err != nil {
		return err
	}
	srv, err := dnsserver.New(opts)
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

// protectionFlags are the dns command's rate limiting, TCP, socket and
// query log flags; the defaults are dnsserver's, explained in
// dnsserver/README.md.
type protectionFlags struct {
	rrlRate, rrlSlip int
	rrlWindow        time.Duration
	rrlExempt        string
	tcpMaxConns      int
	tcpIdle          time.Duration
	tcpMaxQueries    int
	workers          int
	udpReaders       int
	qlogSample       float64
	qlogRate         int
}

func (p *protectionFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&p.rrlRate, "rrl-rate", dnsserver.DefaultRRLRate, "response rate limiting: UDP responses per second per client prefix (/24, /56) and name; 0 disables RRL")
	fs.IntVar(&p.rrlSlip, "rrl-slip", dnsserver.DefaultRRLSlip, "every Nth rate-limited response is sent truncated (TC) so real clients retry over TCP; 0 drops them all")
	fs.DurationVar(&p.rrlWindow, "rrl-window", dnsserver.DefaultRRLWindow, "how long a flooded client prefix stays limited after the flood stops, at most")
	fs.StringVar(&p.rrlExempt, "rrl-exempt", "", "comma-separated client prefixes never rate-limited (\"192.0.2.0/24,2001:db8::/32\")")
	fs.IntVar(&p.tcpMaxConns, "tcp-max-conns", dnsserver.DefaultTCPMaxConns, "open TCP connections at most; more are reset at once; -1: no limit")
	fs.DurationVar(&p.tcpIdle, "tcp-idle-timeout", dnsserver.DefaultTCPIdleTimeout, "close a TCP connection idle this long between queries")
	fs.IntVar(&p.tcpMaxQueries, "tcp-max-queries", dnsserver.DefaultTCPMaxQueries, "queries per TCP connection before the server closes it; -1: no limit")
	fs.IntVar(&p.workers, "udp-workers", 1, "UDP sockets per listen address, sharing the port with SO_REUSEPORT (Linux)")
	fs.IntVar(&p.udpReaders, "udp-readers", 0, "goroutines reading and answering each UDP socket in batches; 0: GOMAXPROCS / --udp-workers, at least 2")
	fs.Float64Var(&p.qlogSample, "query-log-sample", 0, "fraction of queries logged (0 to 1); 0 disables the query log")
	fs.IntVar(&p.qlogRate, "query-log-rate", dnsserver.DefaultQueryLogRate, "query log lines per second at most")
}

// options maps the flags onto dnsserver.Options; New validates the
// ranges.
func (p *protectionFlags) options() (dnsserver.Options, error) {
	o := dnsserver.Options{
		RRL:        dnsserver.RRLOptions{Rate: p.rrlRate, Slip: p.rrlSlip, Window: p.rrlWindow},
		TCP:        dnsserver.TCPOptions{MaxConns: p.tcpMaxConns, IdleTimeout: p.tcpIdle, MaxQueries: p.tcpMaxQueries},
		QueryLog:   dnsserver.QueryLogOptions{Sample: p.qlogSample, Rate: p.qlogRate},
		Workers:    p.workers,
		UDPReaders: p.udpReaders,
	}
	switch {
	case p.rrlRate == 0:
		o.RRL = dnsserver.RRLOptions{Disabled: true}
	case p.rrlRate < 0:
		return o, fmt.Errorf("--rrl-rate %d: want 0 (off) or more", p.rrlRate)
	}
	if p.rrlSlip == 0 {
		o.RRL.Slip = dnsserver.NoSlip // BIND's "slip 0"
	} else if p.rrlSlip < 0 {
		return o, fmt.Errorf("--rrl-slip %d: want 0 or more", p.rrlSlip)
	}
	if p.rrlWindow <= 0 {
		return o, fmt.Errorf("--rrl-window %s: want a positive duration", p.rrlWindow)
	}
	for f := range strings.SplitSeq(p.rrlExempt, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		pfx, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return o, fmt.Errorf("--rrl-exempt %q: %w", f, err)
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		o.RRL.Exempt = append(o.RRL.Exempt, pfx)
	}
	if p.tcpMaxConns == 0 || p.tcpMaxQueries == 0 {
		return o, errors.New("--tcp-max-conns and --tcp-max-queries: want -1 (no limit) or more than 0")
	}
	if p.tcpIdle <= 0 {
		return o, fmt.Errorf("--tcp-idle-timeout %s: want a positive duration", p.tcpIdle)
	}
	return o, nil
}
