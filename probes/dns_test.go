package probes

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// dnsHandler answers by question name:
//
//	ok.gslb.example.       NOERROR with a SOA
//	missing.gslb.example.  NXDOMAIN
//	aaaa.gslb.example.     NOERROR for AAAA, SERVFAIL for any other type
//	slow.gslb.example.     no answer until the test ends
//	anything else          REFUSED, as an authoritative server does outside its zones
type dnsHandler struct{ release chan struct{} }

func (h dnsHandler) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	resp := new(dns.Msg)
	resp.SetReply(req)
	q := req.Question[0]
	switch q.Name {
	case "ok.gslb.example.":
		rr, _ := dns.NewRR("ok.gslb.example. 60 IN SOA ns1.gslb.example. hostmaster.gslb.example. 1 3600 600 86400 60")
		resp.Answer = append(resp.Answer, rr)
	case "missing.gslb.example.":
		resp.Rcode = dns.RcodeNameError
	case "aaaa.gslb.example.":
		if q.Qtype != dns.TypeAAAA {
			resp.Rcode = dns.RcodeServerFailure
		}
	case "slow.gslb.example.":
		<-h.release
		return
	default:
		resp.Rcode = dns.RcodeRefused
	}
	_ = w.WriteMsg(resp)
}

// newDNSServer serves h on 127.0.0.1 over UDP and TCP on one port and returns the address.
func newDNSServer(t *testing.T) string {
	t.Helper()
	h := dnsHandler{release: make(chan struct{})}
	// A free UDP port may be taken for TCP by another test process: try
	// a few ports.
	var pc net.PacketConn
	var ln net.Listener
	for attempt := 1; ; attempt++ {
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
		if attempt == 20 {
			t.Fatalf("TCP on the UDP port: %v", err)
		}
	}
	servers := []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}}
	errs := make(chan error, len(servers))
	for _, srv := range servers {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { errs <- srv.ActivateAndServe() }()
		select {
		case <-started:
		case err := <-errs:
			t.Fatalf("DNS server: %v", err)
		}
	}
	t.Cleanup(func() {
		close(h.release)
		for _, srv := range servers {
			if err := srv.Shutdown(); err != nil {
				t.Errorf("DNS server shutdown: %v", err)
			}
			if err := <-errs; err != nil {
				t.Errorf("DNS server: %v", err)
			}
		}
	})
	return pc.LocalAddr().String()
}

func TestDNSCheck(t *testing.T) {
	addr := newDNSServer(t)
	_, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)

	tests := []struct {
		name       string
		check      Check
		target     string
		wantUp     bool
		wantDetail string
	}{
		{"default question is refused by an authoritative server", Check{}, addr, false, "rcode REFUSED"},
		{"name in zone", Check{DNSName: "ok.gslb.example"}, addr, true, "rcode NOERROR"},
		{"nxdomain is down by default", Check{DNSName: "missing.gslb.example."}, addr, false, "rcode NXDOMAIN"},
		{"expected nxdomain", Check{DNSName: "missing.gslb.example.", ExpectRcode: "NOERROR,NXDOMAIN"}, addr, true, "rcode NXDOMAIN"},
		{"question type is sent", Check{DNSName: "aaaa.gslb.example.", DNSType: "aaaa"}, addr, true, "rcode NOERROR"},
		{"question type is judged", Check{DNSName: "aaaa.gslb.example.", DNSType: "A"}, addr, false, "rcode SERVFAIL"},
		{"port override", Check{DNSName: "ok.gslb.example.", Port: port}, "127.0.0.1", true, "rcode NOERROR"},
		{"timeout", Check{DNSName: "slow.gslb.example.", Interval: Duration(time.Second), Timeout: Duration(100 * time.Millisecond)}, addr, false, "timeout after 100ms"},
	}
	for _, transport := range []string{"udp", "tcp"} {
		for _, tc := range tests {
			t.Run(transport+"/"+tc.name, func(t *testing.T) {
				c := tc.check
				c.Kind, c.DNSTransport = KindDNS, transport
				got := mustChecker(t, c, CheckerOptions{}).Check(t.Context(), tc.target)
				if got.Up != tc.wantUp || got.Detail != tc.wantDetail {
					t.Errorf("Check(%+v) = up %v %q, want up %v %q", c, got.Up, got.Detail, tc.wantUp, tc.wantDetail)
				}
			})
		}
	}
}

func TestDNSCheckNothingListening(t *testing.T) {
	addr := closedPort(t)
	for _, transport := range []string{"udp", "tcp"} {
		c := Check{Kind: KindDNS, DNSTransport: transport, Interval: Duration(time.Second), Timeout: Duration(500 * time.Millisecond)}
		got := mustChecker(t, c, CheckerOptions{}).Check(t.Context(), addr)
		// UDP learns of the closed port from the ICMP error on its read; TCP on connect. Where
		// ICMP is filtered, UDP can only time out.
		if got.Up || !(strings.HasSuffix(got.Detail, ": connection refused") || strings.HasPrefix(got.Detail, "timeout")) {
			t.Errorf("%s: Check(closed port) = up %v %q, want down, connection refused", transport, got.Up, got.Detail)
		}
	}
}
