package regionproxy

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fastCheck notices a change within a few hundred milliseconds.
const fastCheck = `"check":{"interval":"100ms","timeout":"80ms","rise":2,"fall":2}`

func lint(t *testing.T, reg *prometheus.Registry) {
	t.Helper()
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatalf("GatherAndLint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
}

func TestRoundRobin(t *testing.T) {
	for _, tc := range []struct {
		name       string
		wa, wb, n  int
		wantA, wan int64
	}{
		{name: "equal weights", wa: 1, wb: 1, n: 20, wantA: 10, wan: 10},
		{name: "weights 1:3", wa: 1, wb: 3, n: 40, wantA: 10, wan: 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newTestBackend(t, "a"), newTestBackend(t, "b")
			ln := listen(t, "127.0.0.21")
			store := newSnapStore(buildSnapshot(t, map[string]string{
				"regions/eu":   regionJSON(t, ln.Addr().String()),
				"pools/eu/web": poolJSON("", fmt.Sprintf("%s*%d", a.addr(), tc.wa), fmt.Sprintf("%s*%d", b.addr(), tc.wb)),
			}))
			tp := startProxy(t, "eu", ln, store, Options{})
			c := newClient(t, "")
			for i := range tc.n {
				if r := do(t, c, "GET", tp.url("/"), "", nil); r.code != http.StatusOK {
					t.Fatalf("GET #%d: status %d, want 200", i, r.code)
				}
			}
			if got, want := [2]int64{a.hits.Load(), b.hits.Load()}, [2]int64{tc.wantA, tc.wan}; got != want {
				t.Errorf("hits (a, b) = %v, want %v", got, want)
			}
			if got := mustCounter(t, tp.reg, "meridian_proxy_requests_total", map[string]string{"pool": "web", "code": "2xx"}); got != float64(tc.n) {
				t.Errorf("requests_total{pool=web,code=2xx} = %v, want %d", got, tc.n)
			}
			lint(t, tp.reg)
		})
	}
}

func TestBalancersSpread(t *testing.T) {
	for _, bal := range []string{"least_request", "random"} {
		t.Run(bal, func(t *testing.T) {
			a, b := newTestBackend(t, "a"), newTestBackend(t, "b")
			ln := listen(t, "127.0.0.21")
			store := newSnapStore(buildSnapshot(t, map[string]string{
				"regions/eu":   regionJSON(t, ln.Addr().String()),
				"pools/eu/web": poolJSON(fmt.Sprintf("%q:%q", "balancer", bal), a.addr(), b.addr()+"*3"),
			}))
			tp := startProxy(t, "eu", ln, store, Options{})
			c := newClient(t, "")
			const n = 200
			for i := range n {
				if r := do(t, c, "GET", tp.url("/"), "", nil); r.code != http.StatusOK {
					t.Fatalf("GET #%d: status %d, want 200", i, r.code)
				}
			}
			ha, hb := a.hits.Load(), b.hits.Load()
			if ha+hb != n || ha == 0 || hb == 0 {
				t.Errorf("hits (a, b) = (%d, %d), want both used, %d in all", ha, hb, n)
			}
			// Weighted random gives b three quarters; allow a wide margin.
			if bal == "random" && (hb < n/2 || hb > n*19/20) {
				t.Errorf("random with weights 1:3: b got %d of %d", hb, n)
			}
		})
	}
}

// A backend that dies while requests run costs no request: every failed
// attempt is retried on the other backend, and the dead one is ejected.
func TestBackendKilledDuringRequests(t *testing.T) {
	a, b := newTestBackend(t, "a"), newTestBackend(t, "b")
	ln := listen(t, "127.0.0.21")
	store := newSnapStore(buildSnapshot(t, map[string]string{
		"regions/eu":   regionJSON(t, ln.Addr().String()),
		"pools/eu/web": poolJSON("", a.addr(), b.addr()),
	}))
	tp := startProxy(t, "eu", ln, store, Options{})
	c := newClient(t, "")

	const workers, total = 4, 400
	var (
		sent   atomic.Int64
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed []string
	)
	for range workers {
		wg.Go(func() {
			for {
				n := sent.Add(1)
				if n > total {
					return
				}
				if n == total/4 {
					a.kill()
				}
				r, err := send(c, "GET", tp.url("/"), "", nil)
				if err == nil && r.code != http.StatusOK {
					err = fmt.Errorf("status %d", r.code)
				}
				if err != nil {
					mu.Lock()
					failed = append(failed, err.Error())
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d of %d GETs failed, first: %s", len(failed), total, failed[0])
	}
	if got := mustCounter(t, tp.reg, "meridian_proxy_retries_total", map[string]string{"pool": "web"}); got < 1 {
		t.Errorf("retries_total = %v, want at least 1", got)
	}
	waitFor(t, "the dead backend to be ejected", func() bool { return tp.Status().HealthyBackends == 1 })
	if got := mustCounter(t, tp.reg, "meridian_proxy_backend_ejections_total", nil); got != 1 {
		t.Errorf("backend_ejections_total = %v, want 1", got)
	}
	lint(t, tp.reg)
}

// noLeak fails if the response names a backend.
func noLeak(t *testing.T, r response, addrs ...string) {
	t.Helper()
	for _, a := range addrs {
		port := a[strings.LastIndexByte(a, ':'):]
		if strings.Contains(r.body, a) || strings.Contains(r.body, port) {
			t.Errorf("body %q reveals backend %s", r.body, a)
		}
		for k, vs := range r.header {
			for _, v := range vs {
				if strings.Contains(v, a) || strings.Contains(v, "127.0.0.1") {
					t.Errorf("header %s: %q reveals a backend", k, v)
				}
			}
		}
	}
}

func TestNoBackend(t *testing.T) {
	t.Run("down by check: 503", func(t *testing.T) {
		d1, d2 := deadAddr(t), deadAddr(t)
		ln := listen(t, "127.0.0.21")
		store := newSnapStore(buildSnapshot(t, map[string]string{
			"regions/eu":   regionJSON(t, ln.Addr().String()),
			"pools/eu/web": poolJSON(fastCheck, d1, d2),
		}))
		tp := startProxy(t, "eu", ln, store, Options{})
		waitFor(t, "no healthy backend", func() bool { return tp.Status().HealthyBackends == 0 })
		if tp.Healthy() {
			t.Error("Healthy() = true with every backend down and no spill-over")
		}
		r := do(t, newClient(t, ""), "GET", tp.url("/"), "", nil)
		if r.code != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503", r.code)
		}
		if r.header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
		if r.body != "503 Service Unavailable\n" {
			t.Errorf("body %q, want the generic one", r.body)
		}
		noLeak(t, r, d1, d2)
		if got := mustCounter(t, tp.reg, "meridian_proxy_no_backend_total", map[string]string{"pool": "web"}); got != 1 {
			t.Errorf("no_backend_total = %v, want 1", got)
		}
		// The gauges follow the checks asynchronously (the proxy's Run
		// loop refreshes them when poked), so poll: a CI run read them
		// before the refresh.
		waitFor(t, "backends{state=down} = 2", func() bool {
			v, err := counterValue(tp.reg, "meridian_proxy_backends", map[string]string{"pool": "web", "state": "down"})
			return err == nil && v == 2
		})
	})
	t.Run("dead without check: 502", func(t *testing.T) {
		d1, d2 := deadAddr(t), deadAddr(t)
		ln := listen(t, "127.0.0.21")
		store := newSnapStore(buildSnapshot(t, map[string]string{
			"regions/eu":   regionJSON(t, ln.Addr().String()),
			"pools/eu/web": poolJSON("", d1, d2),
		}))
		tp := startProxy(t, "eu", ln, store, Options{})
		r := do(t, newClient(t, ""), "GET", tp.url("/"), "", nil)
		if r.code != http.StatusBadGateway || r.body != "502 Bad Gateway\n" {
			t.Fatalf("got %d %q, want the generic 502", r.code, r.body)
		}
		noLeak(t, r, d1, d2)
		// Two attempts (retries 2, but only two backends), both failed.
		if got := mustCounter(t, tp.reg, "meridian_proxy_upstream_attempts_total", map[string]string{"pool": "web", "result": "fail"}); got != 1 {
			t.Errorf("attempts{result=fail} = %v, want 1", got)
		}
		if got := mustCounter(t, tp.reg, "meridian_proxy_upstream_attempts_total", map[string]string{"pool": "web", "result": "retry"}); got != 1 {
			t.Errorf("attempts{result=retry} = %v, want 1", got)
		}
	})
}

func TestSpillover(t *testing.T) {
	lnA, lnB := listen(t, "127.0.0.21"), listen(t, "127.0.0.22")
	bb := newTestBackend(t, "b1")
	dead := deadAddr(t)
	store := newSnapStore(buildSnapshot(t, map[string]string{
		"regions/a":   regionJSON(t, lnA.Addr().String()),
		"regions/b":   regionJSON(t, lnB.Addr().String()),
		"pools/a/web": poolJSON(fastCheck+`,"spillover":["b"]`, dead),
		"pools/b/web": poolJSON(fastCheck+`,"spillover":["a"]`, bb.addr()),
	}))
	pa := startProxy(t, "a", lnA, store, Options{})
	pb := startProxy(t, "b", lnB, store, Options{})
	c := newClient(t, "")
	waitFor(t, "b's backend up", func() bool { return pb.Status().HealthyBackends == 1 })
	if pa.Status().HealthyBackends != 0 {
		t.Fatalf("a has a healthy backend")
	}
	if !pa.Healthy() {
		t.Error("a: Healthy() = false although it can spill over to b")
	}

	r := do(t, c, "GET", pa.url("/"), "", nil)
	if r.code != http.StatusOK || r.body != "b1" {
		t.Fatalf("through a: %d %q, want 200 from b1", r.code, r.body)
	}
	if got := r.header.Get("Got-" + SpilloverHeader); got != "a" {
		t.Errorf("b's backend got %s %q, want a", SpilloverHeader, got)
	}
	// a connects from its advertised address, so b trusts it and keeps the
	// client's address.
	if got, want := r.header.Get("Got-X-Forwarded-For"), "127.0.0.1, 127.0.0.21"; got != want {
		t.Errorf("b's backend got X-Forwarded-For %q, want %q", got, want)
	}
	if got := r.header.Get("Got-Host"); got != testHost {
		t.Errorf("b's backend got Host %q, want %q", got, testHost)
	}
	if got := mustCounter(t, pa.reg, "meridian_proxy_spillover_total", map[string]string{"pool": "web", "region": "b"}); got != 1 {
		t.Errorf("a: spillover_total{region=b} = %v, want 1", got)
	}

	// A request that says it was spilled already is never spilled again,
	// whoever sends it.
	r = do(t, c, "GET", pa.url("/"), "", http.Header{SpilloverHeader: {"elsewhere"}})
	if r.code != http.StatusServiceUnavailable {
		t.Errorf("marked request through a: %d %q, want 503 (no second spill)", r.code, r.body)
	}

	// b loses its backend: a spills to b, b must not spill back to a.
	bb.kill()
	waitFor(t, "b's backend down", func() bool { return pb.Status().HealthyBackends == 0 })
	r = do(t, c, "GET", pa.url("/"), "", nil)
	if r.code != http.StatusServiceUnavailable {
		t.Fatalf("through a with both regions down: %d %q, want 503", r.code, r.body)
	}
	noLeak(t, r, dead, bb.addr())
	if got, err := counterValue(pb.reg, "meridian_proxy_spillover_total", map[string]string{"pool": "web", "region": "a"}); err == nil && got != 0 {
		t.Errorf("b: spillover_total{region=a} = %v, want 0", got)
	}
	if got := mustCounter(t, pb.reg, "meridian_proxy_no_backend_total", map[string]string{"pool": "web"}); got != 1 {
		t.Errorf("b: no_backend_total = %v, want 1", got)
	}
	// a saw exactly the two client requests: nothing came back from b.
	var aRequests float64
	for _, code := range codeClasses {
		v, _ := counterValue(pa.reg, "meridian_proxy_requests_total", map[string]string{"pool": "web", "code": code})
		aRequests += v
	}
	if aRequests != 3 {
		t.Errorf("a served %v requests, want the 3 the client sent (b spilled back?)", aRequests)
	}
	lint(t, pa.reg)
	lint(t, pb.reg)
}

func TestActiveHealthCheck(t *testing.T) {
	a, b := newTestBackend(t, "a"), newTestBackend(t, "b")
	ln := listen(t, "127.0.0.21")
	store := newSnapStore(buildSnapshot(t, map[string]string{
		"regions/eu":   regionJSON(t, ln.Addr().String()),
		"pools/eu/web": poolJSON(fastCheck, a.addr(), b.addr()),
	}))
	tp := startProxy(t, "eu", ln, store, Options{})
	c := newClient(t, "")
	published := func(healthy int) func() bool {
		return func() bool {
			return slices.ContainsFunc(tp.publishedStatuses(), func(s gslb.ProxyStatus) bool {
				return s.HealthyBackends == healthy && s.TotalBackends == 2
			})
		}
	}
	waitFor(t, "both backends up", func() bool { return tp.Status().HealthyBackends == 2 })
	waitFor(t, "2/2 published", published(2))

	// Counted before the flip, so a check racing with it can only make the
	// count larger, never smaller than the failed checks.
	failing := a.healthHits.Load()
	a.healthy.Store(false)
	waitFor(t, "a down", func() bool { return tp.Status().HealthyBackends == 1 })
	if n := a.healthHits.Load() - failing; n < 2 {
		t.Errorf("a taken out after %d failed checks, want fall = 2", n)
	}
	waitFor(t, "1/2 published", published(1))
	for range 10 {
		if r := do(t, c, "GET", tp.url("/"), "", nil); r.body != "b" {
			t.Fatalf("with a down, served by %q, want b", r.body)
		}
	}
	if got := mustCounter(t, tp.reg, "meridian_proxy_backends", map[string]string{"pool": "web", "state": "up"}); got != 1 {
		t.Errorf("backends{state=up} = %v, want 1", got)
	}

	passing := a.healthHits.Load()
	a.healthy.Store(true)
	waitFor(t, "a back up", func() bool { return tp.Status().HealthyBackends == 2 })
	if n := a.healthHits.Load() - passing; n < 2 {
		t.Errorf("a back after %d passing checks, want rise = 2", n)
	}
	waitFor(t, "2/2 published again", func() bool {
		s := tp.publishedStatuses()
		return s[len(s)-1].HealthyBackends == 2
	})
	if got := mustCounter(t, tp.reg, "meridian_proxy_backend_transitions_total", map[string]string{"to": "down"}); got != 1 {
		t.Errorf("proxy_backend_transitions_total{to=down} = %v, want 1", got)
	}
	lint(t, tp.reg)
}

func TestForwardingHeaders(t *testing.T) {
	a := newTestBackend(t, "a")
	ln := listen(t, "127.0.0.21")
	store := newSnapStore(buildSnapshot(t, map[string]string{
		"regions/eu": regionJSON(t, ln.Addr().String()),
		// 127.0.0.22 is a proxy of another region.
		"regions/us":   `{"location":{"lat":40,"lon":-75},"proxies":["127.0.0.22"]}`,
		"pools/eu/web": poolJSON("", a.addr()),
	}))
	tp := startProxy(t, "eu", ln, store, Options{})
	spoof := http.Header{
		"X-Forwarded-For":   {"6.6.6.6"},
		"X-Forwarded-Host":  {"evil.example"},
		"X-Forwarded-Proto": {"https"},
		"X-Real-Ip":         {"6.6.6.6"},
		"Forwarded":         {"for=6.6.6.6"},
		SpilloverHeader:     {"us"},
	}
	for _, tc := range []struct {
		name, src string
		want      map[string]string // header the backend got -> value; "" means absent
	}{
		{name: "client", src: "127.0.0.50", want: map[string]string{
			"X-Forwarded-For": "127.0.0.50", "X-Forwarded-Host": testHost, "X-Forwarded-Proto": "http",
			"X-Real-Ip": "", "Forwarded": "", SpilloverHeader: "",
		}},
		{name: "known proxy", src: "127.0.0.22", want: map[string]string{
			"X-Forwarded-For": "6.6.6.6, 127.0.0.22", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https",
			"X-Real-Ip": "6.6.6.6", "Forwarded": "for=6.6.6.6", SpilloverHeader: "us",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, newClient(t, tc.src), "GET", tp.url("/"), "", spoof)
			if r.code != http.StatusOK {
				t.Fatalf("status %d", r.code)
			}
			for h, want := range tc.want {
				if got := strings.Join(r.header.Values("Got-"+h), ", "); got != want {
					t.Errorf("backend got %s %q, want %q", h, got, want)
				}
			}
			if got := r.header.Get("Got-Host"); got != testHost {
				t.Errorf("backend got Host %q, want %q", got, testHost)
			}
		})
	}
}

func TestDrain(t *testing.T) {
	a := newTestBackend(t, "a")
	ln := listen(t, "127.0.0.21")
	store := newSnapStore(buildSnapshot(t, map[string]string{
		"regions/eu":   regionJSON(t, ln.Addr().String()),
		"pools/eu/web": poolJSON("", a.addr()),
	}))
	tp := startProxy(t, "eu", ln, store, Options{DrainPeriod: time.Second})
	addr := ln.Addr().String()

	// A request in flight when the shutdown starts.
	inflight := make(chan response, 1)
	go func() {
		r, err := send(newClient(t, ""), "GET", tp.url("/block"), "", nil)
		if err != nil {
			r.body = err.Error()
		}
		inflight <- r
	}()
	<-a.entered

	serveDone := make(chan error, 1)
	go func() { serveDone <- tp.shutdown() }()
	waitFor(t, "draining", func() bool { return tp.Status().Draining })
	waitFor(t, "draining published", func() bool {
		return slices.ContainsFunc(tp.publishedStatuses(), func(s gslb.ProxyStatus) bool { return s.Draining })
	})
	if tp.Healthy() {
		t.Error("Healthy() = true while draining")
	}

	// During the drain period new requests are served, on connections that
	// close afterwards.
	r := do(t, newClient(t, ""), "GET", tp.url("/"), "", nil)
	if r.code != http.StatusOK || !r.close {
		t.Errorf("during drain: status %d, close %v; want 200 and Connection: close", r.code, r.close)
	}

	// After the drain period the listener closes while the request in
	// flight is still waited for.
	waitFor(t, "new connections refused", func() bool {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return true
		}
		_ = conn.Close()
		return false
	})
	select {
	case err := <-serveDone:
		t.Fatalf("Serve returned (%v) before the request in flight finished", err)
	default:
	}
	a.release()
	if r := <-inflight; r.code != http.StatusOK || r.body != "a" {
		t.Errorf("request in flight: %d %q, want 200 a", r.code, r.body)
	}
	if err := <-serveDone; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if got := mustCounter(t, tp.reg, "meridian_proxy_draining", nil); got != 1 {
		t.Errorf("draining gauge = %v, want 1", got)
	}
}

func TestRetryPolicy(t *testing.T) {
	big := strings.Repeat("x", maxBufferedBody+1)
	for _, tc := range []struct {
		name     string
		extra    string // pool fields
		first    string // "dead", "reset" or "slow": the first backend round robin picks
		method   string
		body     string
		wantCode int
		wantBody string // "" when the body is the generic error
		retried  bool
	}{
		{name: "GET after dial error", first: "dead", method: "GET", wantCode: 200, wantBody: "live", retried: true},
		{name: "POST after dial error", first: "dead", method: "POST", body: "hello", wantCode: 200, wantBody: "live", retried: true},
		{name: "GET after reset", first: "reset", method: "GET", wantCode: 200, wantBody: "live", retried: true},
		{name: "PUT after reset", first: "reset", method: "PUT", body: "hello", wantCode: 200, wantBody: "live", retried: true},
		{name: "POST after reset not retried", first: "reset", method: "POST", body: "hello", wantCode: 502},
		{name: "large POST not retried", first: "dead", method: "POST", body: big, wantCode: 502},
		{name: "GET after response timeout", extra: `"response_timeout":"200ms"`, first: "slow", method: "GET", wantCode: 200, wantBody: "live", retried: true},
		{name: "POST after response timeout not retried", extra: `"response_timeout":"200ms"`, first: "slow", method: "POST", body: "hello", wantCode: 504},
		{name: "no retries", extra: `"retries":0`, first: "dead", method: "GET", wantCode: 502},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live := newTestBackend(t, "live")
			var first string
			switch tc.first {
			case "dead":
				first = deadAddr(t)
			case "reset":
				b := newTestBackend(t, "reset")
				b.behave.Store(behaveReset)
				first = b.addr()
			case "slow":
				b := newTestBackend(t, "slow")
				b.behave.Store(behaveSlow)
				first = b.addr()
			}
			ln := listen(t, "127.0.0.21")
			store := newSnapStore(buildSnapshot(t, map[string]string{
				"regions/eu":   regionJSON(t, ln.Addr().String()),
				"pools/eu/web": poolJSON(tc.extra, first, live.addr()),
			}))
			tp := startProxy(t, "eu", ln, store, Options{})
			r := do(t, newClient(t, ""), tc.method, tp.url("/"), tc.body, nil)
			if r.code != tc.wantCode {
				t.Fatalf("status %d %q, want %d", r.code, r.body, tc.wantCode)
			}
			if tc.wantBody != "" && r.body != tc.wantBody {
				t.Errorf("body %q, want %q", r.body, tc.wantBody)
			}
			if tc.wantBody == "" && r.body != fmt.Sprintf("%d %s\n", tc.wantCode, http.StatusText(tc.wantCode)) {
				t.Errorf("body %q, want the generic error", r.body)
			}
			if tc.retried {
				if got, want := r.header.Get("Got-Body-Length"), fmt.Sprint(len(tc.body)); got != want {
					t.Errorf("retried request reached the backend with %s body bytes, want %s", got, want)
				}
			} else if n := live.hits.Load(); n != 0 {
				t.Errorf("the second backend got %d requests, want none (no retry)", n)
			}
			retries, _ := counterValue(tp.reg, "meridian_proxy_retries_total", map[string]string{"pool": "web"})
			if want := map[bool]float64{true: 1}[tc.retried]; retries != want {
				t.Errorf("retries_total = %v, want %v", retries, want)
			}
		})
	}
}

func TestNotFoundAndConnect(t *testing.T) {
	a := newTestBackend(t, "a")
	ln := listen(t, "127.0.0.21")
	store := newSnapStore(buildSnapshot(t, map[string]string{
		"regions/eu":   regionJSON(t, ln.Addr().String()),
		"pools/eu/web": poolJSON("", a.addr()),
	}))
	tp := startProxy(t, "eu", ln, store, Options{})
	c := newClient(t, "")

	for _, host := range []string{"WWW.Example.COM.", testHost + ":8080"} {
		req, _ := http.NewRequest("GET", tp.url("/"), nil)
		req.Host = host
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("Host %q: status %d, want 200", host, res.StatusCode)
		}
	}

	req, _ := http.NewRequest("GET", tp.url("/"), nil)
	req.Host = "other.example"
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r := response{code: res.StatusCode, header: res.Header}
	var sb strings.Builder
	_, _ = bufio.NewReader(res.Body).WriteTo(&sb)
	_ = res.Body.Close()
	r.body = sb.String()
	if r.code != http.StatusNotFound || r.body != "404 Not Found\n" {
		t.Errorf("unknown host: %d %q, want the generic 404", r.code, r.body)
	}
	noLeak(t, r, a.addr())
	if got := mustCounter(t, tp.reg, "meridian_proxy_requests_total", map[string]string{"pool": "", "code": "4xx"}); got != 1 {
		t.Errorf("requests_total{pool=\"\",code=4xx} = %v, want 1", got)
	}

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", a.addr(), testHost)
	res, err = http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("CONNECT: status %d, want 405", res.StatusCode)
	}
	if a.hits.Load() != 2 {
		t.Errorf("backend hits = %d, want 2", a.hits.Load())
	}
}

func TestHeartbeatAndReconfigure(t *testing.T) {
	a, b := newTestBackend(t, "a"), newTestBackend(t, "b")
	ln := listen(t, "127.0.0.21")
	region := regionJSON(t, ln.Addr().String())
	store := newSnapStore(buildSnapshot(t, map[string]string{
		"regions/eu":   region,
		"pools/eu/web": poolJSON("", a.addr()),
	}))
	tp := startProxy(t, "eu", ln, store, Options{HeartbeatInterval: 50 * time.Millisecond})
	waitFor(t, "three heartbeats", func() bool { return len(tp.publishedStatuses()) >= 3 })
	s := tp.publishedStatuses()[0]
	if s.Address.String() != "127.0.0.21" || s.Region != "eu" || s.Instance == "" || s.TotalBackends != 1 || s.Updated.IsZero() {
		t.Errorf("first heartbeat %+v", s)
	}

	// A new snapshot moves the pool to b and adds a pool for another host.
	store.Set(buildSnapshot(t, map[string]string{
		"regions/eu":     region,
		"pools/eu/web":   poolJSON("", b.addr()),
		"pools/eu/other": `{"hosts":["*"],"backends":[{"address":"` + a.addr() + `"}]}`,
	}))
	waitFor(t, "two pools", func() bool { return tp.Status().TotalBackends == 2 })
	c := newClient(t, "")
	if r := do(t, c, "GET", tp.url("/"), "", nil); r.body != "b" {
		t.Errorf("after the change, %s served by %q, want b", testHost, r.body)
	}
	req, _ := http.NewRequest("GET", tp.url("/"), nil)
	req.Host = "anything.example"
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.Header.Get("Backend") != "a" {
		t.Errorf("wildcard pool served by %q, want a", res.Header.Get("Backend"))
	}

	// Removing a pool removes its series.
	store.Set(buildSnapshot(t, map[string]string{
		"regions/eu":   region,
		"pools/eu/web": poolJSON("", b.addr()),
	}))
	waitFor(t, "one pool", func() bool { return tp.Status().TotalBackends == 1 })
	if _, err := counterValue(tp.reg, "meridian_proxy_requests_total", map[string]string{"pool": "other"}); err == nil {
		t.Error("series of the removed pool other remain")
	}
	lint(t, tp.reg)
}

func TestNewErrors(t *testing.T) {
	_, err := New(Options{})
	if err == nil {
		t.Fatal("New(Options{}) succeeded")
	}
	for _, field := range []string{"region", "instance", "advertise", "snapshot", "changed"} {
		if !strings.Contains(err.Error(), field+": required") {
			t.Errorf("error %q does not mention %s", err, field)
		}
	}
}

// An Upgrade (WebSocket) goes through: the response writer lets
// ReverseProxy hijack the client connection.
func TestUpgrade(t *testing.T) {
	backend := newUpgradeBackend(t)
	ln := listen(t, "127.0.0.21")
	store := newSnapStore(buildSnapshot(t, map[string]string{
		"regions/eu":   regionJSON(t, ln.Addr().String()),
		"pools/eu/web": poolJSON("", backend),
	}))
	startProxy(t, "eu", ln, store, Options{})

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n", testHost)
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", res.StatusCode)
	}
	if _, err := conn.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	line, err := br.ReadString('\n')
	if err != nil || line != "ping\n" {
		t.Fatalf("echo = %q, %v; want ping", line, err)
	}
}

// newUpgradeBackend answers an Upgrade: echo request with 101 and then
// echoes lines.
func newUpgradeBackend(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want Upgrade: echo", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		_ = brw.Flush()
		line, err := brw.ReadString('\n')
		if err != nil {
			return
		}
		_, _ = brw.WriteString(line)
		_ = brw.Flush()
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}
