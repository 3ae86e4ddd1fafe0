package main

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/meridian-gslb/meridian/gslb/store"
	"github.com/meridian-gslb/meridian/probes/prober"
	"golang.org/x/sync/errgroup"
)

func runProbe(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := newFlagSet("probe", stderr)
	var nf nodeFlags
	nf.register(fs, "probe", "127.0.0.1:9155")
	host, _ := os.Hostname()
	id := fs.String("id", host, "prober id, one per vantage point (status/probes/<id>/...)")
	leaseTTL := fs.Duration("lease-ttl", 10*time.Second, "TTL of the lease the verdicts live on: a dead prober's verdicts vanish this long after it dies")
	refresh := fs.Duration("refresh", prober.DefaultRefresh, "rewrite unchanged verdicts this often")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	n, err := nf.open("probe-"+*id, stderr)
	if err != nil {
		return err
	}
	defer n.close()
	pub := store.NewPublisher(n.cli, *leaseTTL, n.logger.With("component", "publisher"))
	p, err := prober.New(prober.Options{
		ID: *id, Prefix: n.prefix, Snapshot: n.store.Snapshot, Changed: n.store.Changed, Sink: pub,
		Refresh: *refresh, Logger: n.logger.With("component", "prober"), Registerer: n.reg,
	})
	if err != nil {
		return err
	}
	ln, err := listenAdmin(nf.admin)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return n.store.Run(ctx) })
	g.Go(func() error { return pub.Run(ctx) })
	if ln != nil {
		a := &admin{reg: n.reg, logger: n.logger, ready: func() (bool, any) {
			ok := n.store.Snapshot() != nil
			return ok, map[string]any{"ready": ok, "targets": p.Targets(), "store": n.store.Status()}
		}}
		g.Go(func() error { return a.serve(ctx, ln) })
	}
	g.Go(func() error {
		if err := waitReady(ctx, n.store); err != nil {
			return nil
		}
		n.logger.Info("probing", "component", "prober", "prober", *id)
		return p.Run(ctx)
	})
	return ignoreCanceled(g.Wait())
}
