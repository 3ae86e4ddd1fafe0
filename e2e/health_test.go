package e2e

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	europe  = "192.0.2.0/24"
	america = "198.51.100.0/24"
)

// steady waits until every continent gets its own region: proxies up,
// heartbeats in, backends checked.
func (w *world) steady(t testing.TB) {
	t.Helper()
	for name, px := range w.proxies {
		eventually(t, 10*time.Second, name+" proxy sees both backends up", func() (bool, string) {
			st := px.p.Status()
			return st.HealthyBackends == 2, fmt.Sprintf("%d of %d", st.HealthyBackends, st.TotalBackends)
		})
	}
	w.waitAnswer(t, 10*time.Second, europe, "127.0.0.11", "europe steady on eu-west")
	w.waitAnswer(t, 10*time.Second, america, "127.0.0.12", "america steady on us-east")
	w.waitAnswer(t, 10*time.Second, "203.0.113.0/24", "127.0.0.13", "asia steady on ap-southeast")
}

// TestRegionFailover: killing every backend of the nearest region moves
// that continent's answer to the next nearest region within 3 s, and
// bringing them back moves it back.
func TestRegionFailover(t *testing.T) {
	w := newWorld(t, worldOptions{})
	w.steady(t)
	for _, b := range w.backends["eu-west"] {
		b.kill()
	}
	took := w.waitAnswer(t, 3*time.Second, europe, "127.0.0.12", "europe fails over to us-east")
	t.Logf("failover in %s", took)
	// The eu-west proxy itself spills over to us-east meanwhile.
	code, body, err := get(&http.Client{Timeout: 5 * time.Second}, w.proxies["eu-west"].url+"/")
	if err != nil || code != 200 || !strings.Contains(body, "us-east") {
		t.Errorf("GET through the eu-west proxy with its backends dead = %d %q %v, want 200 from us-east", code, body, err)
	}
	for _, b := range w.backends["eu-west"] {
		b.start(t)
	}
	took = w.waitAnswer(t, 3*time.Second, europe, "127.0.0.11", "europe back on eu-west")
	t.Logf("recovery in %s", took)
}

// TestNoLostRequests: one backend of two dies during a stream of GETs
// through the proxy; not one GET fails.
func TestNoLostRequests(t *testing.T) {
	w := newWorld(t, worldOptions{})
	w.steady(t)
	px := w.proxies["eu-west"]
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	const total = 400
	var failed []string
	var mu sync.Mutex
	var sent atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sent.Add(1) <= total {
				code, body, err := get(client, px.url+"/")
				if err != nil || code != 200 {
					mu.Lock()
					failed = append(failed, fmt.Sprintf("%d %q %v", code, body, err))
					mu.Unlock()
				}
			}
		}()
	}
	// Kill one backend once the stream is under way.
	eventually(t, 10*time.Second, "requests under way", func() (bool, string) {
		return sent.Load() > total/4, fmt.Sprint(sent.Load())
	})
	victim := w.backends["eu-west"][0]
	victim.kill()
	wg.Wait()
	if len(failed) > 0 {
		t.Errorf("%d of %d GETs failed while a backend died; first: %s", len(failed), total, failed[0])
	}
	if other := w.backends["eu-west"][1].served.Load(); other == 0 {
		t.Errorf("the surviving backend served nothing")
	}
}

// TestKilledProxyLeavesAnswers: a proxy that dies without a goodbye
// (its etcd session drops, no lease revoke) is out of answers within its
// heartbeat lease TTL.
func TestKilledProxyLeavesAnswers(t *testing.T) {
	const ttl = 2 * time.Second
	w := newWorld(t, worldOptions{leaseTTL: ttl})
	w.steady(t)
	w.proxies["eu-west"].kill()
	// etcd grants leases in whole seconds and expires them within about
	// a second of the TTL; allow that much over.
	took := w.waitAnswer(t, ttl+1500*time.Millisecond, europe, "127.0.0.12", "killed proxy out of answers")
	t.Logf("killed proxy left answers after %s (lease TTL %s)", took, ttl)
}

// TestDrainLeavesAnswersFirst: a proxy told to stop drains: it leaves DNS
// answers while it still serves, and only then stops.
func TestDrainLeavesAnswersFirst(t *testing.T) {
	w := newWorld(t, worldOptions{drain: 3 * time.Second})
	w.steady(t)
	px := w.proxies["eu-west"]
	stopped := make(chan struct{})
	go func() { px.stop(); close(stopped) }()
	w.waitAnswer(t, 2*time.Second, europe, "127.0.0.12", "draining proxy out of answers")
	// Out of answers, and still serving.
	select {
	case <-stopped:
		t.Fatal("proxy stopped before its drain period ended")
	default:
	}
	code, body, err := get(&http.Client{Timeout: 5 * time.Second}, px.url+"/")
	if err != nil || code != 200 {
		t.Errorf("GET through the draining proxy = %d %q %v, want 200", code, body, err)
	}
	waitChan(stopped, 20*time.Second)
	if _, _, err := get(&http.Client{Timeout: time.Second}, px.url+"/"); err == nil {
		t.Errorf("GET after the drain succeeded; want the proxy gone")
	}
}

// TestProberQuorum: three probers from three vantage points. One that
// cannot reach eu-west moves nothing; a second one does.
func TestProberQuorum(t *testing.T) {
	w := newWorld(t, worldOptions{})
	sources := []string{"127.0.0.101", "127.0.0.102", "127.0.0.103"}
	for i, src := range sources {
		w.startProber(fmt.Sprintf("p%d", i+1), netip.MustParseAddr(src), 5*time.Second)
	}
	w.steady(t)
	verdicts := func(addr string, wantDown int) func() (bool, string) {
		return func() (bool, string) {
			all, err := w.cli.Get(t.Context(), w.prefix+"status/probes/", clientv3WithPrefix())
			if err != nil {
				return false, err.Error()
			}
			down, n := 0, 0
			for _, kv := range all.Kvs {
				if strings.HasSuffix(string(kv.Key), "/"+addr) {
					n++
					if strings.Contains(string(kv.Value), `"up":false`) {
						down++
					}
				}
			}
			return n == 3 && down == wantDown, fmt.Sprintf("%d of %d down", down, n)
		}
	}
	eventually(t, 10*time.Second, "three probers report eu-west up", verdicts("127.0.0.11", 0))
	// Vantage point p1 loses eu-west: the region's health checks fail for
	// requests from 127.0.0.101 only.
	block := func(src string) {
		for _, b := range w.backends["eu-west"] {
			b.blocked.Store(src, true)
		}
	}
	block(sources[0])
	eventually(t, 5*time.Second, "p1 reports eu-west down", verdicts("127.0.0.11", 1))
	// A minority verdict moves nothing: check a few answers in a row.
	for range 5 {
		if got := w.answer(t, europe); got != "127.0.0.11" {
			t.Fatalf("one prober of three sees eu-west down: europe gets %q, want 127.0.0.11", got)
		}
	}
	block(sources[1])
	eventually(t, 5*time.Second, "p2 reports eu-west down", verdicts("127.0.0.11", 2))
	w.waitAnswer(t, 3*time.Second, europe, "127.0.0.12", "two probers of three move europe to us-east")
}

// TestEtcdOutage: with etcd stopped, DNS keeps answering with the last
// state and the proxies keep serving; once etcd is back, changes flow
// again without restarts.
func TestEtcdOutage(t *testing.T) {
	w := newWorld(t, worldOptions{})
	etcdRequireEmbedded(t, w.cluster)
	w.steady(t)
	w.etcd.Stop()
	eventually(t, 10*time.Second, "DNS store notices etcd is gone", func() (bool, string) {
		return !w.dns.store.Status().Connected, "still connected"
	})
	client := &http.Client{Timeout: 5 * time.Second}
	for range 3 {
		if got := w.answer(t, europe); got != "127.0.0.11" {
			t.Errorf("etcd down: europe gets %q, want the last state 127.0.0.11", got)
		}
		if code, body, err := get(client, w.proxies["us-east"].url+"/"); err != nil || code != 200 {
			t.Errorf("etcd down: GET through us-east = %d %q %v", code, body, err)
		}
	}
	if err := w.etcd.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	w.put("services/www.gslb.example.", `{"policy":"failover","regions":["ap-southeast","eu-west"],"ttl":"1s"}`)
	w.waitAnswer(t, 15*time.Second, europe, "127.0.0.13", "change after etcd returns")
	// The proxies' heartbeats are back too: take us-east's backends away
	// and health still moves answers.
	w.put("services/www.gslb.example.", `{"policy":"failover","regions":["us-east","eu-west"],"ttl":"1s"}`)
	w.waitAnswer(t, 5*time.Second, europe, "127.0.0.12", "failover to us-east")
	for _, b := range w.backends["us-east"] {
		b.kill()
	}
	w.waitAnswer(t, 10*time.Second, europe, "127.0.0.11", "health flows after etcd returns")
}
