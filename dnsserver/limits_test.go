package dnsserver

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// serveOn runs ListenAndServe on addrs for the test's lifetime and
// returns the bound addresses.
func (ts *testServer) serveOn(t testing.TB, addrs ...string) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- ts.ListenAndServe(ctx, addrs, func() { close(started) }) }()
	select {
	case <-started:
	case err := <-done:
		cancel()
		t.Fatalf("ListenAndServe: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ListenAndServe returned %v", err)
		}
	})
	var out []string
	for _, a := range ts.LocalAddrs() {
		out = append(out, a.String())
	}
	return out
}

// TestListenWorkers serves IPv4 and IPv6 loopback with two SO_REUSEPORT
// UDP sockets per address.
func TestListenWorkers(t *testing.T) {
	if runtime.GOOS != "linux" {
		if _, err := New(Options{Snapshot: newTestServer(t, nil).snap.Load, Workers: 2}); err == nil {
			t.Error("Workers 2 accepted without SO_REUSEPORT balancing")
		}
		t.Skip("SO_REUSEPORT workers are Linux only")
	}
	ts := newTestServer(t, func(o *Options) { o.Workers = 2 })
	addrs := ts.serveOn(t, "127.0.0.1:0", "[::1]:0")
	if len(addrs) != 2 || !strings.HasPrefix(addrs[1], "[::1]:") {
		t.Fatalf("LocalAddrs = %v, want 127.0.0.1 and [::1]", addrs)
	}
	for _, addr := range addrs {
		for _, proto := range protos {
			// Several source ports, so that both sockets of the group are
			// likely to serve some.
			for range 8 {
				tc := Case{Qname: "mail.gslb.example.", Qtype: dns.TypeA, Answer: []string{"mail.gslb.example. 300 IN A 192.0.2.25"}}
				req := tc.Msg()
				tc.Check(t, req, exchange(t, proto, addr, req))
			}
		}
	}
	if _, err := New(Options{Snapshot: ts.snap.Load, Workers: 65}); err == nil {
		t.Error("Workers 65 accepted")
	}
}

// tcpConn is a raw DNS-over-TCP client: queries are written back to back,
// answers read in order.
type tcpConn struct {
	t *testing.T
	net.Conn
}

func dialTCP(t *testing.T, addr string) *tcpConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &tcpConn{t, c}
}

// send writes the queries in one write: pipelined.
func (c *tcpConn) send(qs ...*dns.Msg) error {
	var b []byte
	for _, q := range qs {
		p, err := q.Pack()
		if err != nil {
			c.t.Fatal(err)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
		b = append(b, p...)
	}
	_, err := c.Write(b)
	return err
}

// read reads one answer, waiting at most wait.
func (c *tcpConn) read(wait time.Duration) (*dns.Msg, error) {
	if err := c.SetReadDeadline(time.Now().Add(wait)); err != nil {
		return nil, err
	}
	var n [2]byte
	if _, err := io.ReadFull(c, n[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint16(n[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		return nil, err
	}
	m := new(dns.Msg)
	return m, m.Unpack(b)
}

// closed reports whether the server closed the connection within wait.
func (c *tcpConn) closed(wait time.Duration) bool {
	_, err := c.read(wait)
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func tq(id uint16, name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg).SetQuestion(name, qtype)
	m.Id = id
	return m
}

// TestTCPPipelined sends three queries back to back on one connection and
// reads three answers, in order (miekg/dns serves a connection's queries
// one after another), over IPv4 and IPv6.
func TestTCPPipelined(t *testing.T) {
	ts := newTestServer(t, nil)
	for _, addr := range ts.serveOn(t, "127.0.0.1:0", "[::1]:0") {
		t.Run(addr, func(t *testing.T) {
			c := dialTCP(t, addr)
			qs := []*dns.Msg{
				tq(1, "mail.gslb.example.", dns.TypeA),
				tq(2, "nope.gslb.example.", dns.TypeA),
				tq(3, "www.gslb.example.", dns.TypeTXT),
			}
			if err := c.send(qs...); err != nil {
				t.Fatal(err)
			}
			for i, want := range []int{dns.RcodeSuccess, dns.RcodeNameError, dns.RcodeSuccess} {
				m, err := c.read(5 * time.Second)
				if err != nil {
					t.Fatalf("answer %d: %v", i+1, err)
				}
				if m.Id != qs[i].Id || m.Rcode != want || m.Question[0] != qs[i].Question[0] {
					t.Errorf("answer %d: id %d rcode %s question %v, want id %d rcode %s", i+1, m.Id, rcodeName(m.Rcode), m.Question, qs[i].Id, rcodeName(want))
				}
			}
		})
	}
}

func TestTCPMaxQueries(t *testing.T) {
	ts := newTestServer(t, func(o *Options) { o.TCP.MaxQueries = 2 })
	c := dialTCP(t, ts.serve(t))
	if err := c.send(tq(1, "mail.gslb.example.", dns.TypeA), tq(2, "mail.gslb.example.", dns.TypeA), tq(3, "mail.gslb.example.", dns.TypeA)); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := c.read(5 * time.Second); err != nil {
			t.Fatalf("answer %d: %v", i+1, err)
		}
	}
	if !c.closed(5 * time.Second) {
		t.Error("third query on a connection limited to 2 was answered or left open")
	}
}

func TestTCPMaxConns(t *testing.T) {
	ts := newTestServer(t, func(o *Options) { o.TCP.MaxConns = 2 })
	addrs := ts.serveOn(t, "127.0.0.1:0", "[::1]:0") // one limit over both
	c1, c2 := dialTCP(t, addrs[0]), dialTCP(t, addrs[1])
	for _, c := range []*tcpConn{c1, c2} {
		if err := c.send(tq(1, "mail.gslb.example.", dns.TypeA)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.read(5 * time.Second); err != nil {
			t.Fatalf("within the limit: %v", err)
		}
	}
	c3 := dialTCP(t, addrs[0])
	_ = c3.send(tq(1, "mail.gslb.example.", dns.TypeA)) // may fail: reset
	if !c3.closed(5 * time.Second) {
		t.Error("connection beyond the limit was not closed")
	}
	if got := counterValue(t, ts.m.tcpRejected); got != 1 {
		t.Errorf("tcp_connections_rejected_total = %v, want 1", got)
	}
	if got := gaugeValue(t, ts.m.tcpConns); got != 2 {
		t.Errorf("tcp_connections = %v, want 2", got)
	}
	c1.Close()
	waitFor(t, "the closed connection to be counted out", func() bool { return gaugeValue(t, ts.m.tcpConns) == 1 })
	c4 := dialTCP(t, addrs[1])
	if err := c4.send(tq(1, "mail.gslb.example.", dns.TypeA)); err != nil {
		t.Fatal(err)
	}
	if _, err := c4.read(5 * time.Second); err != nil {
		t.Errorf("after a connection closed, a new one is refused: %v", err)
	}
}

// TestTCPTimeouts: a connection that sends nothing is closed after the
// read timeout; one that asked and went quiet, after the idle timeout.
func TestTCPTimeouts(t *testing.T) {
	const read, idle = 100 * time.Millisecond, 300 * time.Millisecond
	ts := newTestServer(t, func(o *Options) { o.TCP.ReadTimeout, o.TCP.IdleTimeout = read, idle })
	addr := ts.serve(t)

	silent := dialTCP(t, addr)
	if !silent.closed(5 * time.Second) {
		t.Error("a connection that sent nothing was left open")
	}

	c := dialTCP(t, addr)
	if err := c.send(tq(1, "mail.gslb.example.", dns.TypeA)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.read(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	answered := time.Now()
	if !c.closed(5 * time.Second) {
		t.Fatal("an idle connection was left open")
	}
	// A deadline never fires early: the lower bound is safe to check.
	if d := time.Since(answered); d < idle*9/10 {
		t.Errorf("idle connection closed after %s, before the idle timeout %s (the read timeout is %s)", d, idle, read)
	}
}

// TestTCPWriteTimeout: a client that sends queries and never reads its
// answers is cut off once a write has been blocked for the write timeout,
// instead of holding a goroutine (and shutdown) forever.
func TestTCPWriteTimeout(t *testing.T) {
	ts := newTestServer(t, func(o *Options) {
		o.TCP.WriteTimeout = 200 * time.Millisecond
		o.TCP.MaxQueries = -1
	})
	c := dialTCP(t, ts.serve(t))
	// 2.4 KB answers: a few thousand fill the loopback socket buffers.
	q, err := tq(1, "big.gslb.example.", dns.TypeTXT).Pack()
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	for range 20_000 {
		b = binary.BigEndian.AppendUint16(b, uint16(len(q)))
		b = append(b, q...)
	}
	if err := c.SetWriteDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		_, _ = c.Write(b) // ends early when the server gives up on us
	}()
	waitFor(t, "the server to drop the connection that does not read", func() bool {
		return gaugeValue(t, ts.m.tcpConns) == 0 && counterValue(t, ts.m.queries.WithLabelValues("gslb.example.", "TXT", "NOERROR", "tcp")) > 0
	})
	c.Close()
	<-wrote
}

// waitFor polls cond until it holds, for at most 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func gaugeValue(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

func TestTCPOptions(t *testing.T) {
	snap := newTestServer(t, nil).snap.Load
	if _, err := New(Options{Snapshot: snap, TCP: TCPOptions{IdleTimeout: -time.Second}}); err == nil || !strings.Contains(err.Error(), "TCP.IdleTimeout") {
		t.Errorf("negative idle timeout: %v", err)
	}
	o, err := TCPOptions{MaxQueries: -5}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := TCPOptions{MaxConns: 1000, IdleTimeout: 10 * time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second, MaxQueries: -1}
	if o != want {
		t.Errorf("defaults = %+v, want %+v", o, want)
	}
}
