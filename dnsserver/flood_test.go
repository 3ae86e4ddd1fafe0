package dnsserver

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"
)

// floodResult is what a flood and a legitimate client saw.
type floodResult struct {
	sent             int // flood queries sent
	full, truncated  int // flood replies: answers, and slipped (TC) ones
	legit, answered  int // legitimate queries sent, and answered in time
	elapsed          time.Duration
	legitMaxWait     time.Duration
	legitUnanswered  []string
	floodWriteErrors int
}

// flood sends n queries for one name from 127.0.0.1 to addr at about
// rate per second, while a legitimate client on 127.1.0.1 (another /24,
// so other RRL buckets) asks a few names, each well below the RRL rate,
// one query at a time. Both stop when the flood has been sent (and in any
// case after 20 s).
func flood(t *testing.T, addr string, n, rate int) floodResult {
	t.Helper()
	server, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	lc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 1, 0, 1)})
	if err != nil {
		t.Skipf("cannot bind 127.1.0.1 (a second loopback /24): %v", err)
	}
	defer lc.Close()

	q := new(dns.Msg).SetQuestion("www.gslb.example.", dns.TypeA)
	q.SetEdns0(1232, false)
	pkt, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}

	var res floodResult
	start := time.Now()
	deadline := start.Add(20 * time.Second)
	var sending atomic.Bool
	sending.Store(true)
	var wg sync.WaitGroup

	// The flood: batches every millisecond, bounded in count and time.
	wg.Go(func() {
		defer sending.Store(false)
		const tick = time.Millisecond
		perTick := max(rate/1000, 1)
		tk := time.NewTicker(tick)
		defer tk.Stop()
		b := append([]byte(nil), pkt...)
		for res.sent < n && time.Now().Before(deadline) {
			<-tk.C
			for range min(perTick, n-res.sent) {
				binary.BigEndian.PutUint16(b, uint16(res.sent))
				if _, err := fc.WriteToUDP(b, server); err != nil {
					res.floodWriteErrors++
				}
				res.sent++
			}
		}
	})
	// The flood's replies, until a quiet moment after the flood ends.
	wg.Go(func() {
		buf := make([]byte, 2048)
		for {
			if err := fc.SetReadDeadline(time.Now().Add(300 * time.Millisecond)); err != nil {
				return
			}
			k, err := fc.Read(buf)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if !sending.Load() {
					return
				}
				continue
			}
			if err != nil || k < 12 {
				return
			}
			if buf[2]&0x02 != 0 { // TC
				res.truncated++
			} else if binary.BigEndian.Uint16(buf[6:8]) > 0 { // ANCOUNT
				res.full++
			}
		}
	})

	// The legitimate client: 8 names, one query every 10 ms, so each name
	// is asked 12.5 times a second, below the rate of 20.
	legit := []struct {
		name  string
		qtype uint16
	}{
		{"www.gslb.example.", dns.TypeA}, {"app.gslb.example.", dns.TypeA}, {"mail.gslb.example.", dns.TypeA},
		{"x.y.gslb.example.", dns.TypeA}, {"v4only.gslb.example.", dns.TypeA}, {"gslb.example.", dns.TypeSOA},
		{"ns1.gslb.example.", dns.TypeA}, {"_dmarc.gslb.example.", dns.TypeTXT},
	}
	tk := time.NewTicker(10 * time.Millisecond)
	buf := make([]byte, 2048)
	for sending.Load() {
		<-tk.C
		l := legit[res.legit%len(legit)]
		m := new(dns.Msg).SetQuestion(l.name, l.qtype)
		m.Id = uint16(res.legit)
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		res.legit++
		asked := time.Now()
		if _, err := lc.WriteToUDP(b, server); err != nil {
			t.Fatal(err)
		}
		if err := lc.SetReadDeadline(asked.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		for {
			k, err := lc.Read(buf)
			if err != nil {
				res.legitUnanswered = append(res.legitUnanswered, fmt.Sprintf("%s %s: %v", l.name, dns.TypeToString[l.qtype], err))
				break
			}
			r := new(dns.Msg)
			if r.Unpack(buf[:k]) != nil || r.Id != m.Id {
				continue // a late answer to an earlier query
			}
			if r.Rcode == dns.RcodeSuccess && !r.Truncated && len(r.Answer) > 0 {
				res.answered++
				res.legitMaxWait = max(res.legitMaxWait, time.Since(asked))
			} else {
				res.legitUnanswered = append(res.legitUnanswered, fmt.Sprintf("%s %s: %v", l.name, dns.TypeToString[l.qtype], r))
			}
			break
		}
	}
	tk.Stop()
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

// TestFlood floods one name from one /24 over real UDP sockets: another
// /24 keeps being answered, the flood is limited to its burst and then
// dropped or slipped as configured, and TCP from the flooded /24 is
// still answered.
func TestFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("flood test")
	}
	for _, tc := range []struct {
		name string
		slip int
		n    int
	}{
		{name: "slip 2", slip: 0, n: 20_000},
		{name: "slip 0 drops all", slip: NoSlip, n: 5_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, func(o *Options) { o.RRL.Slip, o.RRL.LimitLoopback = tc.slip, true })
			addr := ts.serve(t)
			res := flood(t, addr, tc.n, 10_000)
			dropped := counterValue(t, ts.m.rrlDropped[kindAnswer])
			slipped := counterValue(t, ts.m.rrlSlipped[kindAnswer])
			t.Logf("%+v; server dropped %v, slipped %v", res, dropped, slipped)

			if res.sent != tc.n || res.floodWriteErrors > 0 {
				t.Fatalf("flood sent %d of %d queries (%d write errors)", res.sent, tc.n, res.floodWriteErrors)
			}
			if res.answered*100 < res.legit*99 {
				t.Errorf("legitimate client: %d of %d answered, want at least 99%%; unanswered: %v", res.answered, res.legit, res.legitUnanswered)
			}
			// The first second's worth goes through; then the flood keeps
			// its bucket limited for as long as it lasts.
			if res.full > DefaultRRLRate {
				t.Errorf("flood got %d full answers, want at most the burst of %d", res.full, DefaultRRLRate)
			}
			limited := int(dropped + slipped)
			if limited < tc.n*9/10 {
				t.Errorf("%d of %d flood answers limited, want at least 90%% (the rest lost before the server?)", limited, tc.n)
			}
			switch tc.slip {
			case NoSlip:
				if slipped != 0 || res.truncated != 0 {
					t.Errorf("slip 0: %v slipped, %d TC received; want none", slipped, res.truncated)
				}
			default:
				if d := dropped - slipped; d < -1 || d > 1 {
					t.Errorf("slip 2: dropped %v, slipped %v; want every second one slipped", dropped, slipped)
				}
				if res.truncated > int(slipped) || res.truncated < int(slipped)*9/10 {
					t.Errorf("flood client received %d TC replies, server slipped %v", res.truncated, slipped)
				}
			}
			// A real client at the flooded address retries over TCP.
			tcp := Case{Qname: "www.gslb.example.", Qtype: dns.TypeA, AnswerCount: 1}
			req := tcp.Msg()
			tcp.Check(t, req, exchange(t, "tcp", addr, req))
		})
	}
}

// TestFloodMemory puts 100k answers to random names for random /24s (a
// spoofed random-subdomain flood, and a wildcard one) through RRL: the
// table stays its fixed size, the heap does not grow with the number of
// keys, and a key being limited stays limited. It runs in a synctest
// bubble, in no time: the check is of memory and eviction, not of how
// fast the race detector is.
func TestFloodMemory(t *testing.T) { synctest.Test(t, testFloodMemory) }

func testFloodMemory(t *testing.T) {
	const size = 1 << 12
	ts := newTestServer(t, func(o *Options) { o.RRL.TableSize = size })
	victim := netip.MustParseAddrPort("192.0.2.1:53")
	www := ts.Resolve(Case{Qname: "www.gslb.example.", Qtype: dns.TypeA}.Msg(), victim, "udp")
	for range 400 { // 20 s worth at the rate: limited for the whole window
		ts.rrlCheck(www, victim.Addr(), time.Now())
	}
	// Answers to random names: NXDOMAIN and wildcard (Resolve is the slow
	// part under the race detector; 1000 answers, reused, cover it).
	rng := rand.New(rand.NewPCG(1, 2))
	answers := make([]*dns.Msg, 1000)
	for i := range answers {
		name := fmt.Sprintf("r%x.gslb.example.", rng.Uint64())
		if i%2 == 1 {
			name = fmt.Sprintf("r%x.wild.gslb.example.", rng.Uint64())
		}
		answers[i] = ts.Resolve(Case{Qname: name, Qtype: dns.TypeA}.Msg(), victim, "udp")
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const n = 100_000
	for i := range n {
		client := netip.AddrFrom4([4]byte{10, byte(rng.IntN(256)), byte(rng.IntN(256)), 1})
		ts.rrlCheck(answers[i%len(answers)], client, time.Now())
	}
	runtime.GC()
	runtime.ReadMemStats(&after)

	used := 0
	for i := range ts.rrl.table {
		if ts.rrl.table[i].Load() != 0 {
			used++
		}
	}
	t.Logf("%d answers to random names for random /24s: %d of %d buckets used, heap in use %d -> %d KiB",
		n, used, len(ts.rrl.table), before.HeapInuse>>10, after.HeapInuse>>10)
	if len(ts.rrl.table) != size {
		t.Errorf("table has %d buckets, want %d", len(ts.rrl.table), size)
	}
	if used < size*9/10 {
		t.Errorf("only %d of %d buckets used after %d distinct keys: is the flood reaching the table?", used, size, n)
	}
	// The table is allocated up front: no growth with the keys.
	if grow := int64(after.HeapInuse) - int64(before.HeapInuse); grow > 1<<20 {
		t.Errorf("heap in use grew by %d KiB over the flood", grow>>10)
	}
	if a := ts.rrlCheck(www, victim.Addr(), time.Now()); a == rrlSend {
		t.Error("the flooded key was forgotten during the random-name flood")
	}
}
