package probes

import (
	"context"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// dnsChecker sends one query and is up when the answer's rcode is one of expect_rcode.
type dnsChecker struct {
	check     Check
	transport string // "udp" or "tcp"
	dialer    *net.Dialer
	qname     string
	qtype     uint16
	rcodes    map[int]bool
}

func newDNSChecker(c Check, opts CheckerOptions) (*dnsChecker, error) {
	qtype, err := parseDNSType(c.DNSType)
	if err != nil {
		return nil, err
	}
	rcodes, err := parseRcodes(c.ExpectRcode)
	if err != nil {
		return nil, err
	}
	return &dnsChecker{
		check:     c,
		transport: c.DNSTransport,
		dialer:    newDialer(opts.SourceAddr, c.DNSTransport),
		qname:     dns.Fqdn(strings.ToLower(c.DNSName)),
		qtype:     qtype,
		rcodes:    rcodes,
	}, nil
}

func (d *dnsChecker) Check(ctx context.Context, target string) Result {
	timeout := time.Duration(d.check.Timeout)
	a, cancel := startAttempt(ctx, timeout)
	defer cancel()
	addr, err := targetAddr(target, d.check)
	if err != nil {
		return a.down(shorten(err.Error()))
	}
	conn, err := d.dialer.DialContext(a.ctx, d.transport, addr)
	if err != nil {
		return a.fail(err)
	}
	defer conn.Close()
	// miekg/dns turns the context deadline into socket deadlines but does not watch for
	// cancellation; expire the socket when the context ends so that stopping a check is prompt.
	stop := context.AfterFunc(a.ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	q := new(dns.Msg)
	q.SetQuestion(d.qname, d.qtype)
	// The client only supplies exchange logic here (ID matching, TCP framing); its own default
	// 2 s timeout would cut checks with a longer timeout short.
	client := &dns.Client{Net: d.transport, Timeout: timeout}
	resp, _, err := client.ExchangeWithConnContext(a.ctx, q, &dns.Conn{Conn: conn})
	if err != nil {
		return a.fail(err)
	}
	detail := "rcode " + rcodeName(resp.Rcode)
	if !d.rcodes[resp.Rcode] {
		return a.down(detail)
	}
	return a.up(detail)
}

func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return strconv.Itoa(rc)
}
