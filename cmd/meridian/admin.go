package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// newRegistry returns a registry with the Go and process collectors; every
// package registers its own metrics on it.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// admin is the operator endpoint of every server command: /metrics,
// /healthz (alive and able to serve) and /readyz (ready for traffic).
type admin struct {
	reg    *prometheus.Registry
	logger *slog.Logger
	// ready reports whether the component can take traffic, and a status
	// document for humans.
	ready func() (bool, any)
	// healthy reports whether the component can serve at all; nil means
	// the same as ready.
	healthy func() (bool, any)
	mux     *http.ServeMux
}

func (a *admin) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg}))
	status := func(f func() (bool, any)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			ok, doc := f()
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			if !ok {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			_ = enc.Encode(doc)
		}
	}
	h := a.healthy
	if h == nil {
		h = a.ready
	}
	mux.Handle("GET /healthz", status(h))
	mux.Handle("GET /readyz", status(a.ready))
	if a.mux != nil {
		mux.Handle("/", a.mux)
	}
	return mux
}

// serve runs the admin server until ctx ends. An empty address disables it.
func (a *admin) serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
