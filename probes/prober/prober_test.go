package prober

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
)

// memSink records the prober's writes, as the etcd publisher would hold
// them.
type memSink struct {
	mu     sync.Mutex
	kv     map[string]gslb.ProbeStatus
	writes int
}

func (m *memSink) Set(key string, value []byte) {
	var st gslb.ProbeStatus
	if err := json.Unmarshal(value, &st); err != nil {
		panic(err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.kv[key] = st
	m.writes++
}

func (m *memSink) Delete(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.kv, key)
	m.writes++
}

func (m *memSink) get(key string) (gslb.ProbeStatus, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.kv[key]
	return st, ok
}

// snapSource is a swappable snapshot with a change broadcast, as the store
// provides.
type snapSource struct {
	mu      sync.Mutex
	snap    *gslb.Snapshot
	changed chan struct{}
}

func (s *snapSource) Snapshot() *gslb.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap
}

func (s *snapSource) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

func (s *snapSource) set(t *testing.T, kv map[string]string) {
	t.Helper()
	entries := map[string]gslb.Entry{}
	for k, v := range kv {
		e, err := gslb.Decode(k, []byte(v), gslb.Validators{})
		if err != nil {
			t.Fatal(err)
		}
		entries[e.Key.String()] = e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snap = gslb.Build(entries, 1)
	close(s.changed)
	s.changed = make(chan struct{})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval of a deadline-bounded wait
	}
}

func TestProberReportsVerdicts(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	region := fmt.Sprintf(`{"location":{"lat":1,"lon":1},"proxies":["127.0.0.1"],"http_port":%s,
		"check":{"kind":"http","path":"/healthz","interval":"100ms","timeout":"100ms","rise":1,"fall":1}}`, port)
	src := &snapSource{changed: make(chan struct{})}
	src.set(t, map[string]string{"regions/r1": region})
	sink := &memSink{kv: map[string]gslb.ProbeStatus{}}
	p, err := New(Options{ID: "p1", Prefix: "/m/", Snapshot: src.Snapshot, Changed: src.Changed, Sink: sink, Refresh: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	ctx, cancel := context.WithCancel(t.Context())
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()

	const key = "/m/status/probes/p1/127.0.0.1"
	waitFor(t, "first verdict up", func() bool { st, ok := sink.get(key); return ok && st.Up })
	healthy.Store(false)
	waitFor(t, "verdict down", func() bool { st, ok := sink.get(key); return ok && !st.Up && st.Detail != "" })

	// The region goes away: its verdict is deleted.
	src.set(t, map[string]string{})
	waitFor(t, "verdict deleted", func() bool { _, ok := sink.get(key); return !ok })
	if p.Targets() != 0 {
		t.Errorf("Targets() = %d after the region left, want 0", p.Targets())
	}
}

func TestNewRejectsBadID(t *testing.T) {
	src := &snapSource{changed: make(chan struct{})}
	_, err := New(Options{ID: "bad id/x", Snapshot: src.Snapshot, Changed: src.Changed, Sink: &memSink{}})
	if err == nil {
		t.Fatal("New with an id holding a slash succeeded, want an error")
	}
}
