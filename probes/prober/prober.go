// Package prober is the heart of `meridian probe`: it health-checks every
// proxy address of every region in the snapshot, with the check the region
// defines, and reports each verdict to a sink (etcd, on the prober's
// lease) under status/probes/<prober>/<address>.
//
// Write load is kept low on purpose (probe results are the one part of
// the keyspace that grows with regions × proxies × probers): a verdict is
// written when it changes and otherwise refreshed every Refresh, so 100
// targets at the default refresh of 60s cost 1.7 writes/s per prober at
// steady state, whatever the check interval.
//
// Invariants: Run owns and joins every goroutine; a target removed from
// the snapshot has its key deleted; regions without a check are not
// probed (their proxies' heartbeats alone decide).
package prober

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/probes"
	"github.com/prometheus/client_golang/prometheus"
)

// Sink receives the prober's writes. store.Publisher is one: keys live on
// its lease.
type Sink interface {
	Set(key string, value []byte)
	Delete(key string)
}

// DefaultRefresh is how often an unchanged verdict is written again, so
// readers can see how fresh it is.
const DefaultRefresh = time.Minute

// Options configure a Prober.
type Options struct {
	// ID names the prober in keys (status/probes/<ID>/...): one per
	// vantage point.
	ID string
	// Prefix is the keyspace prefix ("/meridian/").
	Prefix   string
	Snapshot func() *gslb.Snapshot
	// Changed returns a channel closed at the next snapshot swap.
	Changed func() <-chan struct{}
	Sink    Sink
	// Refresh: see DefaultRefresh.
	Refresh    time.Duration
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// CheckerOptions are passed to the probes (source address, TLS).
	CheckerOptions probes.CheckerOptions
}

// Prober probes region proxies and reports verdicts.
type Prober struct {
	opts    Options
	monitor *probes.Monitor
	writes  prometheus.Counter

	mu      sync.Mutex
	targets map[string]netip.Addr // monitor target (host:port) -> proxy address
	last    map[netip.Addr]gslb.ProbeStatus
}

// New checks the options and builds a Prober.
func New(opts Options) (*Prober, error) {
	if opts.ID == "" {
		return nil, errors.New("prober: ID is required")
	}
	if _, err := gslb.ParseKey("status/probes/" + opts.ID + "/127.0.0.1"); err != nil {
		return nil, fmt.Errorf("prober: ID %q: %w", opts.ID, err)
	}
	if opts.Snapshot == nil || opts.Changed == nil || opts.Sink == nil {
		return nil, errors.New("prober: Snapshot, Changed and Sink are required")
	}
	if opts.Refresh <= 0 {
		opts.Refresh = DefaultRefresh
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Prober{opts: opts, targets: map[string]netip.Addr{}, last: map[netip.Addr]gslb.ProbeStatus{}}
	var metrics *probes.Metrics
	if opts.Registerer != nil {
		metrics = probes.NewMetrics(opts.Registerer, "probe")
		p.writes = prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meridian_probe_status_writes_total",
			Help: "Verdicts written to the keyspace (changes and refreshes).",
		})
		opts.Registerer.MustRegister(p.writes)
	}
	p.monitor = probes.NewMonitor(probes.MonitorOptions{
		OnChange:       p.onChange,
		Metrics:        metrics,
		Logger:         opts.Logger,
		CheckerOptions: opts.CheckerOptions,
	})
	return p, nil
}

// Run probes until ctx ends.
func (p *Prober) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = p.monitor.Run(ctx)
	}()
	refresh := time.NewTicker(p.opts.Refresh)
	defer refresh.Stop()
	for {
		changed := p.opts.Changed()
		p.reconcile()
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-refresh.C:
			p.refreshAll()
		}
	}
}

// Targets returns the number of addresses being probed.
func (p *Prober) Targets() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.targets)
}

func (p *Prober) key(a netip.Addr) string {
	return p.opts.Prefix + "status/probes/" + p.opts.ID + "/" + a.String()
}

// reconcile makes the monitored targets those of the current snapshot.
func (p *Prober) reconcile() {
	snap := p.opts.Snapshot()
	if snap == nil {
		return
	}
	want := map[string]probes.Check{}
	addrs := map[string]netip.Addr{}
	for _, name := range snap.Regions() {
		r := snap.Region(name)
		if len(r.Check) == 0 {
			continue
		}
		var c probes.Check
		if err := json.Unmarshal(r.Check, &c); err != nil {
			// The store validated it; this cannot happen short of a bug.
			p.opts.Logger.Error("region check does not decode", "region", name, "err", err)
			continue
		}
		for _, a := range r.Proxies {
			t := net.JoinHostPort(a.String(), strconv.Itoa(r.HTTPPort))
			want[t] = c
			addrs[t] = a
		}
	}
	// The address map goes in before the monitor starts new targets, so
	// that their first verdict (which may come at once) is not dropped.
	p.mu.Lock()
	old := p.targets
	p.targets = addrs
	var gone []netip.Addr
	still := map[netip.Addr]bool{}
	for _, a := range addrs {
		still[a] = true
	}
	for _, a := range old {
		if !still[a] {
			gone = append(gone, a)
			delete(p.last, a)
		}
	}
	p.mu.Unlock()
	if err := p.monitor.Set(want); err != nil {
		p.opts.Logger.Warn("some targets not probed", "err", err)
	}
	for _, a := range gone {
		p.opts.Sink.Delete(p.key(a))
	}
}

func (p *Prober) onChange(t probes.Transition) {
	p.mu.Lock()
	a, ok := p.targets[t.Target]
	if !ok {
		p.mu.Unlock()
		return
	}
	st := gslb.ProbeStatus{Up: t.Up, RTT: gslb.Duration(t.Result.RTT), Detail: t.Result.Detail, Updated: t.Result.Time.UTC()}
	p.last[a] = st
	p.mu.Unlock()
	if !t.First || !t.Up {
		p.opts.Logger.Info("target state", "target", t.Target, "up", t.Up, "reason", t.Result.Detail)
	}
	p.write(a, st)
}

func (p *Prober) refreshAll() {
	p.mu.Lock()
	last := maps.Clone(p.last)
	p.mu.Unlock()
	now := time.Now().UTC()
	for a, st := range last {
		st.Updated = now
		p.write(a, st)
	}
}

func (p *Prober) write(a netip.Addr, st gslb.ProbeStatus) {
	b, err := json.Marshal(st)
	if err != nil {
		return
	}
	p.opts.Sink.Set(p.key(a), b)
	if p.writes != nil {
		p.writes.Inc()
	}
}
