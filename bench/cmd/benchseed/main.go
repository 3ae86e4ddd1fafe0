// Command benchseed is the glue between the peer benchmarks
// (bench/dns-peers.sh, bench/proxy-peers.sh) and Meridian. It is not part
// of the product and is not installed; bench/meridian-dns.sh and
// bench/meridian-proxy.sh build and run it.
//
//	benchseed etcd --dir DIR --client-url URL [--peer-url URL]
//	    runs a single-member etcd (package embedetcd, loopback only, no
//	    fsync) until SIGINT or SIGTERM; prints "ready URL" once it serves.
//
//	benchseed dns-policy --regions regions.json --zonefile ZONE [--v6 none|doc] [--out FILE] [--expect-aaaa FILE]
//	    translates the DNS benchmark's region description and zone file
//	    into a Meridian policy file (for `meridian policy apply`): the
//	    zone, one region per benchmark region and one geo service.
//
//	benchseed proxy-policy --listen ADDR:PORT --backend ADDR:PORT [--backend ...] --health-path P [--out FILE]
//	    writes the policy of one region ("bench") whose proxy is ADDR and
//	    one pool over the backends, for the HTTP benchmark.
//
// # Why two IPv6 modes
//
// The DNS benchmark's regions answer AAAA with the v4-mapped form of their
// IPv4 address (::ffff:127.0.10.x) so that every peer's health checks stay
// on loopback. Meridian stores a v4-mapped proxy address as the IPv4
// address it maps (gslb validation unmaps it), so it cannot answer one in
// AAAA. Hence:
//
//   - --v6 none (default): regions get their IPv4 address only and a live
//     HTTP check that `meridian probe` runs against the benchmark's health
//     endpoints, as gdnsd and PowerDNS check them. AAAA questions for the
//     steered name get NODATA (no region has an IPv6 proxy): the location
//     lookup is done, the distance ranking is not.
//   - --v6 doc: every region also gets an IPv6 address from the
//     documentation range (2001:db8:10::N) so that AAAA is steered like A.
//     Those addresses must not be probed (they are not on this machine),
//     so the regions have no check; a region the benchmark marks unhealthy
//     is "disabled" instead, which takes it out of answers the same way a
//     down verdict does.
//
// --expect-aaaa writes "A-address<TAB>expected-AAAA" lines (empty AAAA:
// NODATA), which dns-peers.sh uses to verify Meridian's AAAA answers.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/gslb/store/embedetcd"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "etcd":
		err = runEtcd(os.Args[2:])
	case "dns-policy":
		err = runDNSPolicy(os.Args[2:])
	case "proxy-policy":
		err = runProxyPolicy(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchseed:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchseed etcd|dns-policy|proxy-policy [flags]  (see bench/cmd/benchseed/main.go)")
	os.Exit(2)
}

// ---------------------------------------------------------------- etcd

func runEtcd(args []string) error {
	fs := flag.NewFlagSet("etcd", flag.ExitOnError)
	dir := fs.String("dir", "", "data directory (required)")
	clientURL := fs.String("client-url", "http://127.0.0.1:23790", "client URL (loopback)")
	peerURL := fs.String("peer-url", "", "peer URL (loopback; empty: a free port)")
	_ = fs.Parse(args)
	if *dir == "" {
		return errors.New("etcd: --dir is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	srv, err := embedetcd.Start(startCtx, embedetcd.Config{
		Dir: *dir, ClientURL: *clientURL, PeerURL: *peerURL, Logger: logger,
		NoFsync: true, // a benchmark's throw-away keyspace
	})
	cancel()
	if err != nil {
		return err
	}
	defer srv.Stop()
	fmt.Println("ready", strings.Join(srv.Endpoints(), ","))
	<-ctx.Done()
	return nil
}

// ---------------------------------------------------------------- DNS policy

// benchRegions is the {regions} file of dns-peers.sh.
type benchRegions struct {
	Zone        string `json:"zone"`
	Name        string `json:"name"`
	TTL         int    `json:"ttl"`
	HealthCheck struct {
		Scheme    string `json:"scheme"`
		Port      int    `json:"port"`
		Path      string `json:"path"`
		Host      string `json:"host"`
		Interval  int    `json:"interval_s"`
		Timeout   int    `json:"timeout_s"`
		UpAfter   int    `json:"up_after"`
		DownAfter int    `json:"down_after"`
	} `json:"health_check"`
	Regions []struct {
		Name    string  `json:"name"`
		Lat     float64 `json:"lat"`
		Lon     float64 `json:"lon"`
		A       string  `json:"a"`
		AAAA    string  `json:"aaaa"`
		Healthy bool    `json:"healthy"`
	} `json:"regions"`
}

type obj = map[string]any

func runDNSPolicy(args []string) error {
	fs := flag.NewFlagSet("dns-policy", flag.ExitOnError)
	regionsPath := fs.String("regions", "", "the benchmark's regions JSON (required)")
	zonePath := fs.String("zonefile", "", "the benchmark's static zone file: SOA, NS, glue and other records (required)")
	v6 := fs.String("v6", "none", "IPv6 answers: none (live probes, AAAA NODATA) or doc (2001:db8:10::N, health from the file)")
	out := fs.String("out", "-", "policy file to write")
	expect := fs.String("expect-aaaa", "", "also write the AAAA answer expected per region A address here")
	_ = fs.Parse(args)
	if *regionsPath == "" || *zonePath == "" {
		return errors.New("dns-policy: --regions and --zonefile are required")
	}
	if *v6 != "none" && *v6 != "doc" {
		return fmt.Errorf("dns-policy: --v6 %q: want none or doc", *v6)
	}
	var br benchRegions
	if err := readJSON(*regionsPath, &br); err != nil {
		return err
	}
	zone, err := zoneValue(*zonePath, dns.Fqdn(br.Zone), dns.Fqdn(br.Name))
	if err != nil {
		return err
	}
	pol := obj{"zones/" + dns.Fqdn(br.Zone): zone}
	hc := br.HealthCheck
	if hc.Scheme != "" && hc.Scheme != "http" {
		return fmt.Errorf("dns-policy: health_check.scheme %q: only http is translated", hc.Scheme)
	}
	var names []string
	var expectLines []string
	for i, r := range br.Regions {
		a, err := netip.ParseAddr(r.A)
		if err != nil || !a.Is4() {
			return fmt.Errorf("dns-policy: region %s: a %q is not an IPv4 address", r.Name, r.A)
		}
		region := obj{"location": obj{"lat": r.Lat, "lon": r.Lon}}
		switch *v6 {
		case "none":
			// The v4-mapped AAAA of the file is the same proxy to Meridian.
			region["proxies"] = []string{a.String()}
			region["check"] = obj{
				"kind": "http", "port": hc.Port, "path": hc.Path, "host": hc.Host,
				"interval": secs(hc.Interval), "timeout": secs(hc.Timeout),
				"rise": hc.UpAfter, "fall": hc.DownAfter,
			}
			expectLines = append(expectLines, a.String()+"\t")
		case "doc":
			v6a := netip.MustParseAddr(fmt.Sprintf("2001:db8:10::%x", i+1))
			region["proxies"] = []string{a.String(), v6a.String()}
			if !r.Healthy {
				region["disabled"] = true
			}
			expectLines = append(expectLines, a.String()+"\t"+v6a.String())
		}
		pol["regions/"+r.Name] = region
		names = append(names, r.Name)
	}
	pol["services/"+dns.Fqdn(br.Name)] = obj{
		"policy": "geo", "regions": names, "ttl": secs(br.TTL), "answers": 1,
	}
	if *expect != "" {
		if err := os.WriteFile(*expect, []byte(strings.Join(expectLines, "\n")+"\n"), 0o644); err != nil {
			return err
		}
	}
	return writeJSON(*out, pol)
}

// zoneValue builds zones/<zone> from a zone file: the SOA (its TTL is the
// zone's TTL), the apex NS records with the A/AAAA of in-zone nameservers
// as glue, and every other record as a static record, except those of the
// steered name (a service replaces them).
func zoneValue(path, zone, steered string) (obj, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zp := dns.NewZoneParser(f, zone, path)
	var soa *dns.SOA
	var nsNames []string
	addrs := map[string][]dns.RR{}
	var others []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		h := rr.Header()
		switch v := rr.(type) {
		case *dns.SOA:
			soa = v
			continue
		case *dns.NS:
			if strings.EqualFold(h.Name, zone) {
				nsNames = append(nsNames, strings.ToLower(v.Ns))
				continue
			}
		case *dns.A, *dns.AAAA:
			addrs[strings.ToLower(h.Name)] = append(addrs[strings.ToLower(h.Name)], rr)
		}
		if !strings.EqualFold(h.Name, steered) {
			others = append(others, rr)
		}
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if soa == nil || len(nsNames) == 0 {
		return nil, fmt.Errorf("%s: no SOA or no apex NS", path)
	}
	var nameservers []obj
	glue := map[string]bool{}
	for _, n := range nsNames {
		ns := obj{"name": n}
		var v4, v6 []string
		for _, rr := range addrs[n] {
			switch v := rr.(type) {
			case *dns.A:
				v4 = append(v4, v.A.String())
			case *dns.AAAA:
				v6 = append(v6, v.AAAA.String())
			}
		}
		if len(v4) > 0 {
			ns["ipv4"] = v4
		}
		if len(v6) > 0 {
			ns["ipv6"] = v6
		}
		glue[n] = true
		nameservers = append(nameservers, ns)
	}
	var records []string
	for _, rr := range others {
		if glue[strings.ToLower(rr.Header().Name)] {
			continue // served from nameservers[].ipv4/ipv6
		}
		records = append(records, relative(rr.String(), zone))
	}
	z := obj{
		"ttl": secs(int(soa.Hdr.Ttl)),
		"soa": obj{
			"mname": soa.Ns, "rname": soa.Mbox,
			"refresh": secs(int(soa.Refresh)), "retry": secs(int(soa.Retry)),
			"expire": secs(int(soa.Expire)), "minimum": secs(int(soa.Minttl)),
		},
		"nameservers": nameservers,
	}
	if len(records) > 0 {
		z["records"] = records
	}
	return z, nil
}

// relative turns "name.zone.\tTTL\tIN\tTYPE\tRDATA" into the zone-relative
// form policy records use ("name TTL IN TYPE RDATA", "@" for the apex).
func relative(s, zone string) string {
	owner, rest, _ := strings.Cut(s, "\t")
	switch {
	case strings.EqualFold(owner, zone):
		owner = "@"
	case strings.HasSuffix(strings.ToLower(owner), "."+strings.ToLower(zone)):
		owner = owner[:len(owner)-len(zone)-1]
	}
	return owner + " " + strings.Join(strings.Fields(rest), " ")
}

// ---------------------------------------------------------------- proxy policy

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func runProxyPolicy(args []string) error {
	fs := flag.NewFlagSet("proxy-policy", flag.ExitOnError)
	listen := fs.String("listen", "", "the proxy's listen address, host:port (required)")
	var backends multi
	fs.Var(&backends, "backend", "backend host:port (repeat)")
	healthPath := fs.String("health-path", "/health", "backends' health-check path")
	region := fs.String("region", "bench", "region name")
	out := fs.String("out", "-", "policy file to write")
	_ = fs.Parse(args)
	host, port, err := net.SplitHostPort(*listen)
	if err != nil || len(backends) == 0 {
		return errors.New("proxy-policy: --listen host:port and at least one --backend are required")
	}
	var bs []obj
	for _, b := range backends {
		bs = append(bs, obj{"address": b})
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return fmt.Errorf("proxy-policy: --listen port %q: %w", port, err)
	}
	pol := obj{
		"regions/" + *region: obj{
			// Coordinates are required and do not matter here.
			"location":  obj{"lat": 50.11, "lon": 8.68},
			"proxies":   []string{host},
			"http_port": p,
		},
		"pools/" + *region + "/web": obj{
			"hosts":    []string{"*"},
			"backends": bs,
			"balancer": "round_robin",
			// The same check as HAProxy's in proxy-peers.sh: every 2 s, rise 2, fall 2.
			"check": obj{"kind": "http", "path": *healthPath, "interval": "2s", "timeout": "1s", "rise": 2, "fall": 2},
		},
	}
	return writeJSON(*out, pol)
}

// ---------------------------------------------------------------- helpers

func secs(n int) string { return fmt.Sprintf("%ds", n) }

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	var w io.Writer = os.Stdout
	if path != "-" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	_, err = w.Write(b)
	return err
}
