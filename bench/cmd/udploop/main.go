// Command udploop is an experiment, not part of Meridian: it answers DNS
// over UDP with Meridian's own answer code (dnsserver.Server.Resolve, the
// same snapshot, GeoIP and steering) but its own socket loop instead of
// miekg/dns's server, to measure what the loop costs. miekg/dns reads each
// packet on one goroutine per socket and starts a new goroutine per packet,
// with one recvmsg and one sendmsg (carrying IP_PKTINFO control data) per
// query; udploop runs one long-lived goroutine per SO_REUSEPORT socket and
// reads and writes in batches (recvmmsg/sendmmsg through
// golang.org/x/net/ipv4).
//
//	udploop --listen 127.0.0.17:5300 --geoip geo.mmdb --policy policy.json [--workers N] [--batch 32]
//
// The policy is a policy file (bench/cmd/benchseed dns-policy). There is
// no etcd and no prober: health is what the file says (use --v6 doc, whose
// regions mark the unhealthy one disabled). UDP only, IPv4 only. See
// docs/benchmarks.md ("What limits Meridian's DNS throughput").
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/gslb/geo"
)

func main() {
	listen := flag.String("listen", "127.0.0.17:5300", "UDP address (IPv4)")
	geoip := flag.String("geoip", "", "mmdb (required)")
	policyPath := flag.String("policy", "", "policy file (required)")
	workers := flag.Int("workers", runtime.GOMAXPROCS(0), "SO_REUSEPORT sockets, one goroutine each")
	batch := flag.Int("batch", 32, "messages per recvmmsg/sendmmsg")
	flag.Parse()
	if err := run(*listen, *geoip, *policyPath, *workers, *batch); err != nil {
		log.Fatal("udploop: ", err)
	}
}

func run(listen, geoip, policyPath string, workers, batch int) error {
	if geoip == "" || policyPath == "" {
		return errors.New("--geoip and --policy are required")
	}
	b, err := os.ReadFile(policyPath)
	if err != nil {
		return err
	}
	file, err := gslb.ParsePolicyFile(b)
	if err != nil {
		return err
	}
	entries := map[string]gslb.Entry{}
	for k, v := range file {
		e, err := gslb.Decode(k, v, gslb.Validators{Record: dnsserver.CheckRecord})
		if err != nil {
			return err
		}
		entries[e.Key.String()] = e
	}
	snap := gslb.Build(entries, 1)
	if p := snap.Problems(); len(p) > 0 {
		return fmt.Errorf("policy problems: %v", p)
	}
	var cur atomic.Pointer[gslb.Snapshot]
	cur.Store(snap)
	db, err := geo.OpenMMDB(geoip)
	if err != nil {
		return err
	}
	defer db.Close()
	srv, err := dnsserver.New(dnsserver.Options{Snapshot: cur.Load, Geo: db})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		return errors.Join(err, serr)
	}}
	var conns []net.PacketConn
	for range workers {
		pc, err := lc.ListenPacket(ctx, "udp4", listen)
		if err != nil {
			return err
		}
		conns = append(conns, pc)
	}
	log.Printf("udploop: %d workers on %s, batch %d", workers, listen, batch)
	var wg sync.WaitGroup
	for _, pc := range conns {
		wg.Go(func() { serve(srv, pc, batch) })
	}
	<-ctx.Done()
	for _, pc := range conns {
		pc.Close()
	}
	wg.Wait()
	return nil
}

func serve(srv *dnsserver.Server, pc net.PacketConn, batch int) {
	p := ipv4.NewPacketConn(pc)
	in := make([]ipv4.Message, batch)
	out := make([]ipv4.Message, batch)
	inBuf := make([][]byte, batch)
	outBuf := make([][]byte, batch)
	for i := range in {
		inBuf[i] = make([]byte, 1232)
		outBuf[i] = make([]byte, 0, 4096)
		in[i].Buffers = [][]byte{inBuf[i]}
		out[i].Buffers = [][]byte{nil}
	}
	for {
		n, err := p.ReadBatch(in, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		k := 0
		for i := range n {
			req := new(dns.Msg)
			if err := req.Unpack(inBuf[i][:in[i].N]); err != nil {
				continue
			}
			ua, ok := in[i].Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			m := srv.Resolve(req, ua.AddrPort(), "udp")
			if m == nil {
				continue
			}
			wire, err := m.PackBuffer(outBuf[k][:cap(outBuf[k])])
			if err != nil {
				continue
			}
			out[k].Buffers[0] = wire
			out[k].Addr = in[i].Addr
			k++
		}
		for sent := 0; sent < k; {
			w, err := p.WriteBatch(out[sent:k], 0)
			if err != nil {
				break
			}
			sent += w
		}
	}
}
