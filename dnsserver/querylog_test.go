package dnsserver

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/miekg/dns"
)

// logBuffer collects JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the log lines with message "query", decoded.
func (b *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for l := range strings.SplitSeq(strings.TrimSpace(b.buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == "query" {
			out = append(out, m)
		}
	}
	return out
}

// TestQueryLog checks the fields of the query log. Each case runs in a
// synctest bubble, so that RRL's clock stands still for the rate-limited
// one.
func TestQueryLog(t *testing.T) {
	udp := &net.UDPAddr{IP: net.ParseIP("192.0.2.77"), Port: 5300}
	udp6 := &net.UDPAddr{IP: net.ParseIP("2001:db8:1:2ff::1"), Port: 5300}
	tcp := &net.TCPAddr{IP: net.ParseIP("192.0.2.77"), Port: 5300}
	for _, tc := range []struct {
		name   string
		level  slog.Level
		remote net.Addr
		c      Case
		rrl    int // queries sent before, to exhaust RRL
		want   map[string]any
	}{
		{
			name: "steered, ECS", remote: udp,
			c: Case{Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "198.51.100.0/24"},
			want: map[string]any{"client": "192.0.2.0/24", "qname": "www.gslb.example.", "qtype": "A", "rcode": "NOERROR",
				"proto": "udp", "ecs": "198.51.100.0/24", "scope": 24.0, "region": "us-east"},
		},
		{
			name: "ECS longer than the clip is cut", remote: udp6,
			c: Case{Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "203.0.113.7/32"},
			want: map[string]any{"client": "2001:db8:1:200::/56", "qname": "www.gslb.example.", "qtype": "A", "rcode": "NOERROR",
				"proto": "udp", "ecs": "203.0.113.0/24", "scope": 24.0, "region": "ap-southeast"},
		},
		{
			name: "through a CNAME", remote: tcp,
			c:    Case{Qname: "Alias.gslb.example.", Qtype: dns.TypeA},
			want: map[string]any{"client": "192.0.2.0/24", "qname": "Alias.gslb.example.", "qtype": "A", "rcode": "NOERROR", "proto": "tcp", "region": "eu-west"},
		},
		{
			name: "static record, no region", remote: udp,
			c:    Case{Qname: "mail.gslb.example.", Qtype: dns.TypeA},
			want: map[string]any{"client": "192.0.2.0/24", "qname": "mail.gslb.example.", "qtype": "A", "rcode": "NOERROR", "proto": "udp"},
		},
		{
			name: "nxdomain, odd type", remote: udp,
			c:    Case{Qname: "nope.gslb.example.", Qtype: 65000},
			want: map[string]any{"client": "192.0.2.0/24", "qname": "nope.gslb.example.", "qtype": "TYPE65000", "rcode": "NXDOMAIN", "proto": "udp"},
		},
		{
			name: "debug logs the whole address", level: slog.LevelDebug, remote: udp,
			c:    Case{Qname: "mail.gslb.example.", Qtype: dns.TypeA},
			want: map[string]any{"client": "192.0.2.77", "qname": "mail.gslb.example.", "qtype": "A", "rcode": "NOERROR", "proto": "udp"},
		},
		{
			name: "rate limited", remote: udp, rrl: 20,
			c:    Case{Qname: "mail.gslb.example.", Qtype: dns.TypeA},
			want: map[string]any{"client": "192.0.2.0/24", "qname": "mail.gslb.example.", "qtype": "A", "rcode": "NOERROR", "proto": "udp", "rrl": "slip"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var buf logBuffer
				log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: tc.level}))
				ts := newTestServer(t, func(o *Options) {
					o.Logger = log
					o.RRL.Slip = 1
				})
				w := &recordWriter{remote: tc.remote}
				for range tc.rrl {
					ts.ServeDNS(w, tc.c.Msg())
				}
				ts.qlog = newQueryLog(QueryLogOptions{Sample: 1, Rate: 100}, log, RRLOptions{PrefixV4: 24, PrefixV6: 56}, ts.ecs, ts.m)
				ts.ServeDNS(w, tc.c.Msg())
				lines := buf.lines(t)
				if len(lines) != 1 {
					t.Fatalf("%d query lines, want 1", len(lines))
				}
				got := lines[0]
				if _, ok := got["duration"].(float64); !ok { // 0 here: the bubble's clock stands still
					t.Errorf("duration = %v, want nanoseconds", got["duration"])
				}
				ignore := cmpopts.IgnoreMapEntries(func(k string, _ any) bool { return k == "time" || k == "level" || k == "msg" || k == "duration" })
				if diff := cmp.Diff(tc.want, got, ignore); diff != "" {
					t.Errorf("query line mismatch (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// TestQueryLogRate: a flood of sampled queries logs at most Rate lines a
// second; the rest are counted. The clock is synctest's: the next second
// starts when the test says so.
func TestQueryLogRate(t *testing.T) { synctest.Test(t, testQueryLogRate) }

func testQueryLogRate(t *testing.T) {
	var buf logBuffer
	ts := newTestServer(t, func(o *Options) {
		o.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
		o.QueryLog = QueryLogOptions{Sample: 1, Rate: 5}
	})
	w := &recordWriter{remote: &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 5300}}
	for range 50 {
		ts.ServeDNS(w, Case{Qname: "mail.gslb.example.", Qtype: dns.TypeA}.Msg())
	}
	if n := len(buf.lines(t)); n != 5 {
		t.Errorf("%d lines logged in one second, want 5", n)
	}
	if got := counterValue(t, ts.m.queryLogSuppressed); got != 45 {
		t.Errorf("query_log_suppressed_total = %v, want 45", got)
	}
	time.Sleep(time.Second) // synctest's clock: the next window
	for range 50 {
		ts.ServeDNS(w, Case{Qname: "mail.gslb.example.", Qtype: dns.TypeA}.Msg())
	}
	if n := len(buf.lines(t)); n != 10 {
		t.Errorf("%d lines logged in two seconds, want 10", n)
	}
}

func TestQueryLogSample(t *testing.T) {
	var buf logBuffer
	ts := newTestServer(t, func(o *Options) {
		o.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
		o.QueryLog = QueryLogOptions{Sample: 0.25, Rate: 10_000}
	})
	w := &recordWriter{remote: &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 5300}}
	const n = 2000
	for range n {
		ts.ServeDNS(w, Case{Qname: "mail.gslb.example.", Qtype: dns.TypeA}.Msg())
	}
	// Binomial(2000, 0.25): mean 500, σ ≈ 19; ±150 is ±7.7σ.
	if got := len(buf.lines(t)); got < 350 || got > 650 {
		t.Errorf("%d of %d queries logged at sample 0.25", got, n)
	}
	if off := newTestServer(t, nil); off.qlog != nil {
		t.Error("query log on by default")
	}
	for _, bad := range []QueryLogOptions{{Sample: -0.1}, {Sample: 1.5}, {Sample: 0.5, Rate: -1}} {
		if _, err := New(Options{Snapshot: ts.snap.Load, QueryLog: bad}); err == nil {
			t.Errorf("New(QueryLog %+v) succeeded", bad)
		}
	}
}
