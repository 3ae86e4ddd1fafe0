// Command dnsprobe sends the few DNS messages that dig and kdig cannot:
// queries pipelined on one TCP connection, and malformed queries (two
// questions, two OPT records, the QR bit set). conformance/run.sh runs it;
// it prints what came back and leaves the verdict to the script. It also
// stands in for the demo's proxies on IPv6 addresses (healthz), so that
// the prober finds them up and AAAA queries are steered.
//
//	dnsprobe pipeline -server 127.0.0.1:5353 [-split]
//	dnsprobe send -server 127.0.0.1:5353 [-tcp] [-qdcount 2] [-opt2] [-qr] NAME TYPE
//	dnsprobe healthz -listen [2001:db8::11]:8080,[2001:db8::12]:8080
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: dnsprobe pipeline|send|healthz [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "pipeline":
		err = pipeline(os.Args[2:], os.Stdout)
	case "send":
		err = send(os.Args[2:], os.Stdout)
	case "healthz":
		err = healthz(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dnsprobe:", err)
		os.Exit(1)
	}
}

// pipelined are the queries sent back to back on one connection: steered
// answers for each documentation range, the failover service, a negative
// answer of each kind, and the apex records.
var pipelined = []struct {
	name  string
	qtype uint16
	ecs   string
}{
	{"www.gslb.example.", dns.TypeA, "192.0.2.0/24"},
	{"www.gslb.example.", dns.TypeA, "198.51.100.0/24"},
	{"www.gslb.example.", dns.TypeA, "203.0.113.0/24"},
	{"api.gslb.example.", dns.TypeA, "192.0.2.0/24"},
	{"nope.gslb.example.", dns.TypeA, ""},
	{"www.gslb.example.", dns.TypeMX, ""},
	{"gslb.example.", dns.TypeSOA, ""},
	{"gslb.example.", dns.TypeNS, ""},
	{"mid.gslb.example.", dns.TypeTXT, ""},
	{"example.com.", dns.TypeA, ""},
}

// pipeline writes every query before reading any reply (RFC 7766 §6.2.1.1:
// a server must accept pipelined queries and may answer out of order),
// then matches the replies to the queries by ID and question.
func pipeline(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("pipeline", flag.ContinueOnError)
	server := fs.String("server", "127.0.0.1:5353", "server address")
	split := fs.Bool("split", false, "write each length prefix and each message separately (several TCP segments) instead of everything in one write")
	timeout := fs.Duration("timeout", 3*time.Second, "deadline for all replies")
	if err := fs.Parse(args); err != nil {
		return err
	}
	conn, err := net.DialTimeout("tcp", *server, *timeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(*timeout)); err != nil {
		return err
	}
	sent := map[uint16]int{}
	var frames [][]byte
	for i, q := range pipelined {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		m.Id = uint16(0x1000 + i)
		m.RecursionDesired = false
		m.SetEdns0(1232, false)
		if q.ecs != "" {
			o := m.IsEdns0()
			p := netip.MustParsePrefix(q.ecs)
			o.Option = append(o.Option, &dns.EDNS0_SUBNET{
				Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: uint8(p.Bits()), Address: p.Addr().AsSlice(),
			})
		}
		b, err := m.Pack()
		if err != nil {
			return err
		}
		frames = append(frames, binary.BigEndian.AppendUint16(nil, uint16(len(b))), b)
		sent[m.Id] = i
	}
	if *split {
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		for _, f := range frames {
			if _, err := conn.Write(f); err != nil {
				return err
			}
			time.Sleep(5 * time.Millisecond) // let each write leave as its own segment
		}
	} else {
		var all []byte
		for _, f := range frames {
			all = append(all, f...)
		}
		if _, err := conn.Write(all); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "sent %d queries on one TCP connection before reading (%d bytes, split=%v)\n", len(pipelined), sumLen(frames), *split)
	got := make([]string, len(pipelined))
	order := 0
	for n := range pipelined {
		var l [2]byte
		if _, err := io.ReadFull(conn, l[:]); err != nil {
			return fmt.Errorf("reply %d of %d: %w", n+1, len(pipelined), err)
		}
		b := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(conn, b); err != nil {
			return fmt.Errorf("reply %d of %d: %w", n+1, len(pipelined), err)
		}
		r := new(dns.Msg)
		if err := r.Unpack(b); err != nil {
			return fmt.Errorf("reply %d of %d: %w", n+1, len(pipelined), err)
		}
		i, ok := sent[r.Id]
		if !ok {
			return fmt.Errorf("reply with unknown or repeated id %d", r.Id)
		}
		delete(sent, r.Id)
		q := pipelined[i]
		if len(r.Question) != 1 || !strings.EqualFold(r.Question[0].Name, q.name) || r.Question[0].Qtype != q.qtype {
			return fmt.Errorf("reply id %d: question %v, want %s %s", r.Id, r.Question, q.name, dns.TypeToString[q.qtype])
		}
		if i == n {
			order++
		}
		got[i] = summary(q.name, q.qtype, q.ecs, r)
	}
	for _, s := range got {
		fmt.Fprintln(out, s)
	}
	fmt.Fprintf(out, "%d replies for %d queries, matched by id and question (%d in the order sent)\n", len(pipelined), len(pipelined), order)
	return nil
}

func sumLen(frames [][]byte) int {
	n := 0
	for _, f := range frames {
		n += len(f)
	}
	return n
}

// summary is one reply on one line: question, rcode, flags, answers,
// the counts of the other sections and the ECS echo.
func summary(name string, qtype uint16, ecs string, r *dns.Msg) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", name, dns.TypeToString[qtype])
	if ecs != "" {
		fmt.Fprintf(&b, " ecs=%s", ecs)
	}
	fmt.Fprintf(&b, " -> %s aa=%v tc=%v", dns.RcodeToString[r.Rcode], r.Authoritative, r.Truncated)
	var ans []string
	for _, rr := range r.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			ans = append(ans, rr.A.String())
		default:
			ans = append(ans, dns.TypeToString[rr.Header().Rrtype])
		}
	}
	fmt.Fprintf(&b, " answer=[%s] ns=%d", strings.Join(ans, " "), len(r.Ns))
	if o := r.IsEdns0(); o != nil {
		for _, opt := range o.Option {
			if s, ok := opt.(*dns.EDNS0_SUBNET); ok {
				fmt.Fprintf(&b, " ecs-scope=%d", s.SourceScope)
			}
		}
	}
	return b.String()
}

// send sends one hand-made query and prints the reply's rcode, flags and
// whether it carries an OPT record, or "no reply" when none comes before
// the timeout (what a server must do with a message that has QR set).
func send(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	server := fs.String("server", "127.0.0.1:5353", "server address")
	tcp := fs.Bool("tcp", false, "send over TCP instead of UDP")
	qdcount := fs.Int("qdcount", 1, "number of questions (the same question repeated; 0 for none)")
	edns := fs.Bool("edns", true, "add an OPT record")
	opt2 := fs.Bool("opt2", false, "add a second OPT record")
	qr := fs.Bool("qr", false, "set the QR bit (send a response)")
	timeout := fs.Duration("timeout", time.Second, "how long to wait for a reply")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return errors.New("send: want NAME TYPE")
	}
	qtype, ok := dns.StringToType[strings.ToUpper(fs.Arg(1))]
	if !ok {
		return fmt.Errorf("send: unknown type %q", fs.Arg(1))
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(fs.Arg(0)), qtype)
	q := m.Question[0]
	m.Question = nil
	for range *qdcount {
		m.Question = append(m.Question, q)
	}
	m.Response = *qr
	if *edns || *opt2 {
		m.SetEdns0(1232, false)
	}
	if *opt2 {
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		o.SetUDPSize(1232)
		m.Extra = append(m.Extra, o)
	}
	wire, err := m.Pack()
	if err != nil {
		return err
	}
	proto := "udp"
	if *tcp {
		proto = "tcp"
	}
	c := &dns.Client{Net: proto, Timeout: *timeout}
	fmt.Fprintf(out, "sent %d-byte %s query id %d: qdcount=%d opt-records=%d qr=%v\n", len(wire), proto, m.Id, len(m.Question), countOPT(m), m.Response)
	r, _, err := c.Exchange(m, *server)
	var ne net.Error
	switch {
	case err != nil && errors.As(err, &ne) && ne.Timeout():
		fmt.Fprintf(out, "no reply within %s\n", *timeout)
		return nil
	case err != nil && *tcp && (errors.Is(err, io.EOF) || strings.Contains(err.Error(), "connection reset")):
		fmt.Fprintf(out, "no reply: connection closed (%v)\n", err)
		return nil
	case err != nil:
		return err
	}
	fmt.Fprintf(out, "reply id %d: status: %s, qr=%v aa=%v qdcount=%d opt-records=%d\n",
		r.Id, dns.RcodeToString[r.Rcode], r.Response, r.Authoritative, len(r.Question), countOPT(r))
	return nil
}

func countOPT(m *dns.Msg) int {
	n := 0
	for _, rr := range m.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			n++
		}
	}
	return n
}

// healthz answers 200 "ok" to every request on each address until SIGTERM:
// what the prober checks on a region's proxy address.
func healthz(args []string) error {
	fs := flag.NewFlagSet("healthz", flag.ContinueOnError)
	listen := fs.String("listen", "", "comma-separated addresses")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	errc := make(chan error, 1)
	var srvs []*http.Server
	for a := range strings.SplitSeq(*listen, ",") {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 2 * time.Second}
		srvs = append(srvs, srv)
		go func() { errc <- srv.Serve(ln) }()
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	for _, srv := range srvs {
		_ = srv.Close()
	}
	return nil
}
