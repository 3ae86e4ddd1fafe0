package regionproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testHost = "www.example.com"

// snapStore is what the command wires in from the store: the current
// snapshot and a channel closed at the next swap.
type snapStore struct {
	mu   sync.Mutex
	snap *gslb.Snapshot
	ch   chan struct{}
}

func newSnapStore(s *gslb.Snapshot) *snapStore { return &snapStore{snap: s, ch: make(chan struct{})} }

func (s *snapStore) Snapshot() *gslb.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap
}

func (s *snapStore) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

func (s *snapStore) Set(snap *gslb.Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snap = snap
	close(s.ch)
	s.ch = make(chan struct{})
}

// buildSnapshot decodes kv (keys relative to the prefix) as the store does
// and builds a snapshot.
func buildSnapshot(t testing.TB, kv map[string]string) *gslb.Snapshot {
	t.Helper()
	v := gslb.Validators{Check: func(raw json.RawMessage) error { _, err := decodeCheck(raw); return err }}
	entries := map[string]gslb.Entry{}
	for k, val := range kv {
		e, err := gslb.Decode(k, []byte(val), v)
		if err != nil {
			t.Fatalf("Decode(%s): %v", k, err)
		}
		entries[e.Key.String()] = e
	}
	s := gslb.Build(entries, 1)
	if p := s.Problems(); len(p) > 0 {
		t.Fatalf("snapshot problems: %v", p)
	}
	return s
}

// regionJSON is a region whose one proxy listens on addr.
func regionJSON(t testing.TB, addr string) string {
	t.Helper()
	ap := netip.MustParseAddrPort(addr)
	return fmt.Sprintf(`{"location":{"lat":50,"lon":0},"proxies":[%q],"http_port":%d}`, ap.Addr(), ap.Port())
}

// poolJSON is a pool for testHost over backends, with extra fields
// (`"balancer":"random"`, …) spliced in.
func poolJSON(extra string, backends ...string) string {
	var bs []string
	for _, b := range backends {
		if addr, w, ok := strings.Cut(b, "*"); ok {
			bs = append(bs, fmt.Sprintf(`{"address":%q,"weight":%s}`, addr, w))
		} else {
			bs = append(bs, fmt.Sprintf(`{"address":%q}`, b))
		}
	}
	if extra != "" {
		extra = "," + extra
	}
	return fmt.Sprintf(`{"hosts":[%q],"backends":[%s]%s}`, testHost, strings.Join(bs, ","), extra)
}

// testBackend is a loopback HTTP backend that says who it is and echoes
// the forwarding headers it received. The test controls its health check
// and can block requests to /block until release is closed.
type testBackend struct {
	*httptest.Server
	name       string
	hits       atomic.Int64 // requests other than health checks
	healthy    atomic.Bool
	healthHits atomic.Int64
	behave     atomic.Int32  // behaveNormal, behaveReset or behaveSlow for every request
	block      chan struct{} // /block and slow requests wait for it to be closed
	entered    chan struct{} // receives when a /block request arrives
}

const (
	behaveNormal = iota
	behaveReset  // read the request, then drop the connection without answering
	behaveSlow   // answer only once released
)

func newTestBackend(t testing.TB, name string) *testBackend {
	t.Helper()
	b := &testBackend{name: name, block: make(chan struct{}), entered: make(chan struct{}, 16)}
	b.healthy.Store(true)
	b.Server = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(func() {
		b.release()
		b.Close()
	})
	return b
}

var releaseMu sync.Mutex

func (b *testBackend) release() {
	releaseMu.Lock()
	defer releaseMu.Unlock()
	select {
	case <-b.block:
	default:
		close(b.block)
	}
}

func (b *testBackend) addr() string { return b.Listener.Addr().String() }

func (b *testBackend) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		b.healthHits.Add(1)
		if !b.healthy.Load() {
			http.Error(w, "sick", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
		return
	}
	b.hits.Add(1)
	switch b.behave.Load() {
	case behaveReset:
		_, _ = io.Copy(io.Discard, r.Body)
		panic(http.ErrAbortHandler)
	case behaveSlow:
		select {
		case <-b.block:
		case <-r.Context().Done():
			return
		}
	}
	if r.URL.Path == "/block" {
		b.entered <- struct{}{}
		<-b.block
	}
	for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip", "Forwarded", SpilloverHeader} {
		if v, ok := r.Header[h]; ok {
			w.Header()["Got-"+h] = v
		}
	}
	w.Header().Set("Backend", b.name)
	w.Header().Set("Got-Host", r.Host)
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Got-Body-Length", fmt.Sprint(len(body)))
	_, _ = io.WriteString(w, b.name)
}

// kill closes the backend's listener and every connection it has, as a
// crashed process would: new connections are refused, requests in flight
// are cut.
func (b *testBackend) kill() {
	_ = b.Listener.Close()
	b.CloseClientConnections()
}

// deadAddr returns a loopback address that refuses connections.
func deadAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// listen opens a listener on ip (a 127.0.0.x address) and a free port.
func listen(t testing.TB, ip string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// testProxy is a Proxy running Run and Serve on its own listener.
type testProxy struct {
	*Proxy
	ln    net.Listener
	reg   *prometheus.Registry
	store *snapStore

	mu        sync.Mutex
	published []gslb.ProxyStatus

	cancelServe, cancelRun context.CancelFunc
	serveErr, runErr       chan error
	serveOnce, runOnce     sync.Once
	serveResult            error
}

// startProxy runs a proxy for region on ln. opts may set anything but the
// wiring.
func startProxy(t testing.TB, region string, ln net.Listener, store *snapStore, opts Options) *testProxy {
	t.Helper()
	tp := &testProxy{ln: ln, reg: prometheus.NewRegistry(), store: store,
		serveErr: make(chan error, 1), runErr: make(chan error, 1)}
	ap := netip.MustParseAddrPort(ln.Addr().String())
	opts.Region = region
	opts.Instance = ln.Addr().String()
	opts.Advertise = ap.Addr()
	opts.Snapshot = store.Snapshot
	opts.Changed = store.Changed
	opts.Registerer = tp.reg
	opts.Publish = func(s gslb.ProxyStatus) {
		tp.mu.Lock()
		defer tp.mu.Unlock()
		tp.published = append(tp.published, s)
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	tp.Proxy = p
	runCtx, cancelRun := context.WithCancel(context.Background())
	serveCtx, cancelServe := context.WithCancel(context.Background())
	tp.cancelRun, tp.cancelServe = cancelRun, cancelServe
	go func() { tp.runErr <- p.Run(runCtx) }()
	go func() { tp.serveErr <- p.Serve(serveCtx, ln) }()
	t.Cleanup(func() { tp.stop(t) })
	return tp
}

// shutdown cancels Serve's context and returns Serve's result; later calls
// return the same.
func (tp *testProxy) shutdown() error {
	tp.serveOnce.Do(func() {
		tp.cancelServe()
		tp.serveResult = <-tp.serveErr
	})
	return tp.serveResult
}

// stop shuts the proxy down as the command does: Serve first, then Run.
func (tp *testProxy) stop(t testing.TB) {
	t.Helper()
	if err := tp.shutdown(); err != nil {
		t.Errorf("Serve: %v", err)
	}
	tp.runOnce.Do(func() {
		tp.cancelRun()
		if err := <-tp.runErr; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func (tp *testProxy) url(path string) string { return "http://" + tp.ln.Addr().String() + path }

func (tp *testProxy) publishedStatuses() []gslb.ProxyStatus {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]gslb.ProxyStatus(nil), tp.published...)
}

// newClient returns a client whose connections leave from src ("" for the
// kernel's choice, 127.0.0.1 on loopback).
func newClient(t testing.TB, src string) *http.Client {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 16, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// response is what a test checks of a response.
type response struct {
	code   int
	header http.Header
	body   string
	close  bool // the server asked to close the connection
}

// send sends a request for testHost; safe to call from any goroutine.
func send(c *http.Client, method, url, body string, header http.Header) (response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return response{}, err
	}
	req.Host = testHost
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := c.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: reading body: %w", method, url, err)
	}
	return response{code: res.StatusCode, header: res.Header, body: string(b), close: res.Close}, nil
}

func do(t testing.TB, c *http.Client, method, url, body string, header http.Header) response {
	t.Helper()
	r, err := send(c, method, url, body, header)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
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

var errNoCounter = errors.New("no such series")

// counterValue reads one series of a counter or gauge from reg.
func counterValue(reg *prometheus.Registry, name string, labels map[string]string) (float64, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue metrics
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), nil
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), nil
			}
		}
	}
	return 0, errNoCounter
}

func mustCounter(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	v, err := counterValue(reg, name, labels)
	if err != nil {
		t.Fatalf("%s%v: %v", name, labels, err)
	}
	return v
}
