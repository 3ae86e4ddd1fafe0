package dnsserver

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/gslb"
)

func TestListenBindError(t *testing.T) {
	ts := newTestServer(t, nil)
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.LocalAddr().String()
	err = ts.ListenAndServe(t.Context(), []string{"127.0.0.1:0", addr}, func() { t.Error("started called although a bind failed") })
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("ListenAndServe with %s taken = %v, want an error naming it", addr, err)
	}
	if err := ts.ListenAndServe(t.Context(), nil, nil); err == nil {
		t.Error("ListenAndServe without addresses succeeded")
	}
	if err := ts.ListenAndServe(t.Context(), []string{"no-port"}, nil); err == nil || !strings.Contains(err.Error(), "no-port") {
		t.Errorf("ListenAndServe(no-port) = %v, want an error naming it", err)
	}
}

func TestListenTwoAddrs(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		done <- ts.ListenAndServe(ctx, []string{"127.0.0.1:0", "127.0.0.1:0"}, func() { close(started) })
	}()
	<-started
	addrs := ts.LocalAddrs()
	if len(addrs) != 2 || addrs[0] == addrs[1] {
		t.Fatalf("LocalAddrs = %v, want two distinct", addrs)
	}
	for _, a := range addrs {
		for _, proto := range protos {
			tc := Case{Qname: "mail.gslb.example.", Qtype: dns.TypeA, Answer: []string{"mail.gslb.example. 300 IN A 192.0.2.25"}}
			req := tc.Msg()
			tc.Check(t, req, exchange(t, proto, a.String(), req))
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ListenAndServe = %v after cancel, want nil", err)
	}
}

// TestGracefulShutdown checks that a TCP query in flight when the context
// ends is still answered.
func TestGracefulShutdown(t *testing.T) {
	ts := newTestServer(t, nil)
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	snap := ts.snap.Load()
	ts.snapshotFn = func() *gslb.Snapshot {
		entered <- struct{}{}
		<-release
		return snap
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := make(chan struct{})
	go func() { done <- ts.ListenAndServe(ctx, []string{"127.0.0.1:0"}, func() { close(started) }) }()
	<-started
	addr := ts.LocalAddrs()[0].String()

	got := make(chan *dns.Msg, 1)
	go func() {
		c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
		resp, _, err := c.Exchange(new(dns.Msg).SetQuestion("mail.gslb.example.", dns.TypeA), addr)
		if err != nil {
			t.Errorf("in-flight query: %v", err)
		}
		got <- resp
	}()
	<-entered
	cancel()
	select {
	case err := <-done:
		t.Fatalf("ListenAndServe returned %v with a query in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if resp := <-got; resp == nil || resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
		t.Errorf("in-flight query answered %v", resp)
	}
	if err := <-done; err != nil {
		t.Errorf("ListenAndServe = %v", err)
	}
}

// TestMalformed sends what miekg/dns cannot unpack: a bare header gets
// FORMERR, shorter junk and responses get nothing.
func TestMalformed(t *testing.T) {
	ts := newTestServer(t, nil)
	addr := ts.serve(t)
	header := []byte{0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0} // QDCOUNT 1, no question
	response := []byte{0x12, 0x34, 0x81, 0x00, 0, 0, 0, 0, 0, 0, 0, 0}
	manyRRs := []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 5, 0, 0, 0, 0}
	for _, proto := range protos {
		t.Run(proto, func(t *testing.T) {
			if resp := rawExchange(t, proto, addr, header); len(resp) < 12 || resp[3]&0xf != dns.RcodeFormatError || resp[0] != 0x12 || resp[1] != 0x34 {
				t.Errorf("bare header: got %x, want FORMERR with id 1234", resp)
			}
			if resp := rawExchange(t, proto, addr, manyRRs); len(resp) < 12 || resp[3]&0xf != dns.RcodeFormatError {
				t.Errorf("5 answer RRs in a query: got %x, want FORMERR", resp)
			}
			if resp := rawExchange(t, proto, addr, response); resp != nil {
				t.Errorf("response: got %x, want no reply", resp)
			}
			if resp := rawExchange(t, proto, addr, []byte{1, 2, 3}); resp != nil {
				t.Errorf("3 bytes: got %x, want no reply", resp)
			}
		})
	}
}

// rawExchange sends b and returns the reply, or nil if none comes within
// a short wait (the cases that expect silence wait that long).
func rawExchange(t *testing.T, proto, addr string, b []byte) []byte {
	t.Helper()
	conn, err := net.Dial(proto, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if proto == "tcp" {
		b = append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
	}
	if _, err := conn.Write(b); err != nil {
		t.Fatal(err)
	}
	var resp []byte
	if proto == "tcp" {
		var n [2]byte
		if _, err := io.ReadFull(conn, n[:]); err != nil {
			return nil
		}
		resp = make([]byte, binary.BigEndian.Uint16(n[:]))
		if _, err := io.ReadFull(conn, resp); err != nil {
			t.Fatalf("read: %v", err)
		}
		return resp
	}
	resp = make([]byte, dns.MaxMsgSize)
	n, err := conn.Read(resp)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return resp[:n]
}
