package store

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/gslb/store/embedetcd"
	"github.com/meridian-gslb/meridian/gslb/store/etcdtest"
)

// Fixture values: a zone, two regions and a service over both.
const (
	zoneKey   = "zones/gslb.example."
	euKey     = "regions/eu-west"
	usKey     = "regions/us-east"
	apKey     = "regions/ap-southeast"
	wwwKey    = "services/www.gslb.example."
	wwwName   = "www.gslb.example."
	zoneJSON  = `{"nameservers":[{"name":"ns1.gslb.example.","ipv4":["192.0.2.53"]}]}`
	euJSON    = `{"location":{"lat":53.35,"lon":-6.26},"country":"IE","proxies":["127.0.0.11"]}`
	eu2JSON   = `{"location":{"lat":53.35,"lon":-6.26},"country":"IE","proxies":["127.0.0.11","127.0.0.21"]}`
	usJSON    = `{"location":{"lat":38.9,"lon":-77.0},"country":"US","proxies":["127.0.0.12"]}`
	apJSON    = `{"location":{"lat":1.35,"lon":103.8},"country":"SG","proxies":["127.0.0.13"]}`
	wwwJSON   = `{"policy":"geo","regions":["eu-west","us-east"]}`
	www3JSON  = `{"policy":"geo","regions":["eu-west","us-east","ap-southeast"]}`
	beatJSON  = `{"address":"127.0.0.11","healthy_backends":2,"total_backends":2,"updated":"2025-01-01T00:00:00Z"}`
	pollEvery = 5 * time.Millisecond
	waitLimit = 15 * time.Second
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", waitLimit, what)
		}
		time.Sleep(pollEvery)
	}
}

// logBuffer collects log output for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) contains(s string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Contains(b.buf.String(), s)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLogger(t testing.TB) (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("store logs:\n%s", lb)
		}
	})
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// harness is a store on its own prefix of a test etcd, with a second
// client for the test's own writes.
type harness struct {
	srv    *embedetcd.Server
	cli    *clientv3.Client // the test's writes
	prefix string
	reg    *prometheus.Registry
	logs   *logBuffer
	st     *Store
	done   chan struct{}
}

// newHarness makes the store; tweak may change its options. Tests change
// the store's knobs between newHarness and run. With srv nil, a tweak must
// set the client, and the harness has none for writes.
func newHarness(t *testing.T, srv *embedetcd.Server, tweak ...func(*Options)) *harness {
	t.Helper()
	h := &harness{srv: srv, prefix: etcdtest.Prefix(t), reg: prometheus.NewRegistry()}
	var log *slog.Logger
	log, h.logs = newLogger(t)
	o := Options{
		Prefix:         h.prefix,
		Logger:         log,
		Registerer:     h.reg,
		RequestTimeout: time.Second,
	}
	if srv != nil {
		h.cli = etcdtest.Client(t, srv)
		o.Client = etcdtest.Client(t, srv)
	}
	for _, f := range tweak {
		f(&o)
	}
	st, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	// Fast liveness checks and state writes keep the fault tests short.
	st.livenessInterval = 100 * time.Millisecond
	st.stateInterval = 20 * time.Millisecond
	h.st = st
	return h
}

// run starts the store and stops it when the test ends.
func (h *harness) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h.done = make(chan struct{})
	go func() {
		defer close(h.done)
		if err := h.st.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		h.wait(t)
	})
}

func (h *harness) wait(t *testing.T) {
	t.Helper()
	select {
	case <-h.done:
	case <-time.After(waitLimit):
		t.Fatalf("Run did not return after its context ended")
	}
}

func (h *harness) ready(t *testing.T) *gslb.Snapshot {
	t.Helper()
	select {
	case <-h.st.Ready():
	case <-time.After(waitLimit):
		t.Fatalf("store not ready after %s; status %+v", waitLimit, h.st.Status())
	}
	return h.st.Snapshot()
}

func (h *harness) apply(t *testing.T, puts map[string]string, deletes ...string) int64 {
	t.Helper()
	p := map[string][]byte{}
	for k, v := range puts {
		p[k] = []byte(v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	rev, err := Apply(ctx, h.cli, h.prefix, p, deletes)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return rev
}

func (h *harness) put(t *testing.T, key, value string) int64 {
	t.Helper()
	return h.apply(t, map[string]string{key: value})
}

// raw returns the served value of key (canonical, relative), "" if none.
func raw(s *gslb.Snapshot, key string) string {
	if s == nil {
		return ""
	}
	return string(s.Entries()[key].Raw)
}

// rawEntries returns the served values, by canonical key.
func rawEntries(s *gslb.Snapshot) map[string]string {
	out := map[string]string{}
	for k, e := range s.Entries() {
		out[k] = string(e.Raw)
	}
	return out
}

// deadClient is a client of a loopback port where nothing listens.
func deadClient(t testing.TB) *clientv3.Client {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return clientFor(t, []string{"http://" + addr})
}

func clientFor(t testing.TB, endpoints []string) *clientv3.Client {
	t.Helper()
	c, err := Dial(ClientConfig{Endpoints: endpoints})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// val reads a counter, a gauge, or a histogram's sample count.
func val(t testing.TB, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatalf("metric %s: %v", m.Desc(), err)
	}
	switch {
	case d.Counter != nil:
		return d.Counter.GetValue()
	case d.Gauge != nil:
		return d.Gauge.GetValue()
	case d.Histogram != nil:
		return float64(d.Histogram.GetSampleCount())
	}
	t.Fatalf("metric %s: not a counter, gauge or histogram", m.Desc())
	return 0
}
