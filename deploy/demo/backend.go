package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Backend is a demo upstream: it answers every request with the region
// and backend that served it, so a newcomer can see where a request went,
// and it can be failed and recovered over HTTP (POST /demo/fail, POST
// /demo/recover) to watch traffic move. While failed it answers 503,
// health checks included.
type Backend struct {
	Region, Name string
	// Addr is the host:port to listen on.
	Addr string

	failed atomic.Bool
	served atomic.Int64

	mu  sync.Mutex
	srv *http.Server
	ln  net.Listener
}

// Start listens and serves in the background.
func (b *Backend) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		return errors.New("demo backend: already started")
	}
	ln, err := net.Listen("tcp", b.Addr)
	if err != nil {
		return fmt.Errorf("demo backend %s/%s: %w", b.Region, b.Name, err)
	}
	b.ln = ln
	b.Addr = ln.Addr().String()
	b.srv = &http.Server{Handler: b, ReadHeaderTimeout: 5 * time.Second}
	go func(s *http.Server) { _ = s.Serve(ln) }(b.srv)
	return nil
}

// Stop closes the listener and every connection at once, as a crash would.
func (b *Backend) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		_ = b.srv.Close()
		b.srv = nil
	}
}

// Shutdown stops gracefully, letting in-flight requests finish.
func (b *Backend) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	srv := b.srv
	b.srv = nil
	b.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Shutdown(ctx)
}

// SetFailed makes the backend answer 503 (true) or serve again (false).
func (b *Backend) SetFailed(f bool) { b.failed.Store(f) }

// Served returns how many requests were answered with 200.
func (b *Backend) Served() int64 { return b.served.Load() }

func (b *Backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/demo/fail":
		b.SetFailed(true)
		fmt.Fprintf(w, "%s/%s now fails\n", b.Region, b.Name)
		return
	case r.Method == http.MethodPost && r.URL.Path == "/demo/recover":
		b.SetFailed(false)
		fmt.Fprintf(w, "%s/%s recovered\n", b.Region, b.Name)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Demo-Backend", b.Region+"/"+b.Name)
	if b.failed.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "%s/%s is failed (POST /demo/recover)\n", b.Region, b.Name)
		return
	}
	b.served.Add(1)
	fmt.Fprintf(w, "hello from region %s, backend %s (%s %s, Host %s)\n", b.Region, b.Name, r.Method, r.URL.Path, r.Host)
}
