package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/gslb/geo"
	"github.com/meridian-gslb/meridian/gslb/store"
)

func runExplain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("explain", stderr)
	var ef etcdFlags
	ef.register(fs)
	client := fs.String("client", "", "client address, or client subnet as a resolver would send it in ECS (\"192.0.2.0/24\")")
	qtype := fs.String("type", "A", "A or AAAA")
	geoip := fs.String("geoip", "", "GeoIP database, as given to meridian dns")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: meridian explain NAME --client IP|PREFIX [--type AAAA] [--geoip FILE]")
		fs.PrintDefaults()
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errUsage
	}
	name, err := gslb.CanonicalName(pos[0])
	if err != nil {
		return err
	}
	q := gslb.Query{Name: name, SourceBits: -1, Explain: true}
	switch strings.ToUpper(*qtype) {
	case "A":
	case "AAAA":
		q.IPv6 = true
	default:
		return fmt.Errorf("--type %q: want A or AAAA", *qtype)
	}
	if *client != "" {
		if p, err := netip.ParsePrefix(*client); err == nil {
			q.Client, q.SourceBits = p.Masked().Addr(), p.Bits()
		} else if a, err := netip.ParseAddr(*client); err == nil {
			q.Client = a
		} else {
			return fmt.Errorf("--client %q: not an address or prefix", *client)
		}
	}
	if *geoip != "" {
		m, err := geo.OpenMMDB(*geoip)
		if err != nil {
			return err
		}
		defer m.Close()
		q.Geo = m
	}
	cli, err := ef.client(nil)
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	raw, rev, err := store.List(ctx, cli, ef.normPrefix())
	if err != nil {
		return fmt.Errorf("read etcd: %w", err)
	}
	snap := buildSnapshot(raw, rev, stdout)
	d, err := gslb.Steer(snap, q)
	if err != nil {
		return fmt.Errorf("%s: %w (services: %s)", name, err, strings.Join(snap.Services(), ", "))
	}
	fmt.Fprintf(stdout, "%s %s for client %s at revision %d\n", name, strings.ToUpper(*qtype), *client, rev)
	for i, r := range d.Reasons {
		fmt.Fprintf(stdout, "  %d. %s\n", i+1, r)
	}
	answer := "NODATA"
	if len(d.Addrs) > 0 {
		var as []string
		for _, a := range d.Addrs {
			as = append(as, a.String())
		}
		answer = strings.Join(as, " ")
	}
	fmt.Fprintf(stdout, "answer: region=%q %s ttl=%s scope=/%d fallback=%v\n", d.Region, answer, d.TTL, d.Scope, d.Fallback)
	return nil
}

// buildSnapshot decodes raw etcd values as the servers do; values they
// would reject are reported and left out.
func buildSnapshot(raw map[string][]byte, rev int64, w io.Writer) *gslb.Snapshot {
	v := validators()
	entries := map[string]gslb.Entry{}
	for k, val := range raw {
		e, err := gslb.Decode(k, val, v)
		if err != nil {
			fmt.Fprintln(w, "warning: rejected by the servers:", err)
			continue
		}
		entries[e.Key.String()] = e
	}
	snap := gslb.Build(entries, rev)
	for _, p := range snap.Problems() {
		fmt.Fprintln(w, "warning:", p)
	}
	return snap
}
