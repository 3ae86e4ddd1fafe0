package regionproxy

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/probes"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults and bounds of Options.
const (
	// DefaultHeartbeatInterval is the refresh of an unchanged status. A
	// change is published at once, and liveness rides on the lease's
	// keep-alive, not on rewrites; the refresh only keeps in_flight and
	// updated current. Every write makes every DNS server and proxy
	// rebuild its snapshot, so at 100 proxies 30 s means 3.3 writes/s
	// for the whole fleet.
	DefaultHeartbeatInterval = 30 * time.Second
	// DrainAuto as Options.DrainPeriod waits for the longest TTL of the
	// services that list the region, capped at MaxAutoDrain.
	DrainAuto = time.Duration(-1)
	// MaxAutoDrain caps DrainAuto: a service with a one-hour TTL should not
	// hold a deploy for an hour; clients that cached us that long retry
	// another address of the answer when we are gone.
	MaxAutoDrain = 5 * time.Minute
	// DefaultShutdownGrace bounds how long Serve waits for in-flight
	// requests after the drain period before closing their connections.
	DefaultShutdownGrace = 30 * time.Second
)

// Server timeouts (Serve).
const (
	// readHeaderTimeout stops slowloris clients from holding connections
	// open without finishing a request head.
	readHeaderTimeout = 10 * time.Second
	// serverIdleTimeout: how long a client's keep-alive connection may sit
	// idle. 60 s matches common load balancers (AWS ALB).
	serverIdleTimeout = 60 * time.Second
	// maxHeaderBytes: 64 KiB is far above real request heads (NGINX allows
	// 4 × 8 KiB) and far below Go's default of 1 MiB per connection.
	maxHeaderBytes = 64 << 10
)

// ErrRunTwice is returned by a second call to Run.
var ErrRunTwice = errors.New("regionproxy: Run called twice")

// Options configure a Proxy. Region, Instance, Advertise, Snapshot and
// Changed are required.
type Options struct {
	// Region is the region this proxy serves: its pools are
	// Snapshot().Pools(Region).
	Region string
	// Instance identifies this proxy within the region (the key of its
	// heartbeat, status/proxies/<region>/<instance>).
	Instance string
	// Advertise is this proxy's address as listed in regions/<region>
	// proxies. It is published in the heartbeat and, when it is an
	// address of this host, spill-over connections leave from it.
	Advertise netip.Addr
	// Snapshot returns the current snapshot. It must not return nil once
	// Run has started; New builds the first table when it already returns
	// one.
	Snapshot func() *gslb.Snapshot
	// Changed returns a channel that is closed when the next snapshot is
	// stored.
	Changed func() <-chan struct{}
	// Publish receives the status: at once when it changes (backends up or
	// down, draining) and at least every HeartbeatInterval. It must not
	// block; calls are serialized. Optional.
	Publish func(gslb.ProxyStatus)
	// HeartbeatInterval is the longest time between two Publish calls.
	// Default 5s.
	HeartbeatInterval time.Duration
	// DrainPeriod is how long Drain waits after announcing it: DrainAuto
	// (-1) for the longest TTL of the services that list this region (so
	// resolvers have forgotten us), capped at MaxAutoDrain; 0 for no wait.
	DrainPeriod time.Duration
	// ShutdownGrace bounds the wait for in-flight requests in Serve after
	// the drain. Default 30s.
	ShutdownGrace time.Duration
	// Logger receives ejections, state changes and configuration
	// conflicts; the command adds the region to it. Default: discard.
	Logger *slog.Logger
	// Registerer receives the metrics (see README.md). Optional.
	Registerer prometheus.Registerer
	// Transport, when set, is cloned as the base of the transports to
	// backends (tests use it); the pool's timeouts are applied on top.
	// Otherwise the transports are built with explicit timeouts and
	// connection limits, never from http.DefaultTransport.
	Transport *http.Transport
}

func (o *Options) validate() error {
	var errs []error
	if o.Region == "" {
		errs = append(errs, errors.New("region: required"))
	}
	if o.Instance == "" {
		errs = append(errs, errors.New("instance: required"))
	}
	if !o.Advertise.IsValid() {
		errs = append(errs, errors.New("advertise: required"))
	}
	if o.Snapshot == nil {
		errs = append(errs, errors.New("snapshot: required"))
	}
	if o.Changed == nil {
		errs = append(errs, errors.New("changed: required"))
	}
	if o.HeartbeatInterval < 0 {
		errs = append(errs, fmt.Errorf("heartbeat_interval: %v is negative", o.HeartbeatInterval))
	}
	if o.DrainPeriod < DrainAuto {
		errs = append(errs, fmt.Errorf("drain_period: %v (want -1 for auto, 0 or more)", o.DrainPeriod))
	}
	if o.ShutdownGrace < 0 {
		errs = append(errs, fmt.Errorf("shutdown_grace: %v is negative", o.ShutdownGrace))
	}
	return errors.Join(errs...)
}

// Proxy is the regional HTTP proxy. It is an http.Handler; Serve runs it on
// a listener and Run keeps it in step with the snapshots.
type Proxy struct {
	opts      Options
	logger    *slog.Logger
	m         *metrics
	noPool    *poolMetrics
	monitor   *probes.Monitor
	bindSpill bool // Advertise is local: spill-over connections leave from it

	table    atomic.Pointer[table]
	inFlight atomic.Int64
	draining atomic.Bool
	running  atomic.Bool

	reqs    sync.Pool   // *request
	rpLog   *log.Logger // ReverseProxy's error log
	buffers bufferPool

	kick chan struct{} // state changed on the request path or by a check: refresh

	recMu sync.Mutex  // serializes sync, so tables are installed in snapshot order
	built atomic.Bool // a snapshot has been applied

	mu         sync.Mutex // guards the reconcile state below; never taken on the request path
	backends   map[string]*backend
	cores      map[string]*poolCore
	transports map[transportKey]*http.Transport
	pm         map[string]*poolMetrics
	warnings   string // last logged, to log conflicts once rather than on every snapshot
	checkErr   string

	pubMu     sync.Mutex // serializes Publish
	published bool
	last      gslb.ProxyStatus

	drainOnce     sync.Once
	drainDeadline time.Time // set once by drainOnce
}

// New returns a Proxy for opts. When opts.Snapshot already returns a
// snapshot, the proxy can serve at once (backends with an active check
// start in the check's initial_state until Run runs the checks).
func New(opts Options) (*Proxy, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("regionproxy: %w", err)
	}
	opts.Advertise = opts.Advertise.Unmap()
	if opts.HeartbeatInterval == 0 {
		opts.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if opts.ShutdownGrace == 0 {
		opts.ShutdownGrace = DefaultShutdownGrace
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{
		opts:       opts,
		logger:     opts.Logger,
		bindSpill:  isLocal(opts.Advertise),
		kick:       make(chan struct{}, 1),
		backends:   map[string]*backend{},
		cores:      map[string]*poolCore{},
		transports: map[transportKey]*http.Transport{},
		pm:         map[string]*poolMetrics{},
	}
	p.m = newMetrics(opts.Registerer, p)
	p.noPool = p.m.forPool(noPool)
	p.monitor = probes.NewMonitor(probes.MonitorOptions{
		OnChange:       p.onCheck,
		Metrics:        probes.NewMetrics(opts.Registerer, "proxy_backend"),
		Logger:         opts.Logger,
		CheckerOptions: probes.CheckerOptions{UserAgent: "meridian-proxy"},
	})
	// ReverseProxy logs body-copy errors: clients or backends going away
	// mid-response, routine for a proxy, so only at debug level.
	p.rpLog = slog.NewLogLogger(opts.Logger.Handler(), slog.LevelDebug)
	p.reqs.New = func() any { return newRequest(p) }
	p.table.Store(&table{hosts: map[string]*pool{}})
	p.sync()
	return p, nil
}

// Run keeps the proxy in step with the snapshots until ctx is done: it
// rebuilds the pools on each change, runs the active checks of the
// backends and publishes the status. It returns nil once every goroutine it
// started has returned. Cancel it after Serve has returned, so that checks
// and heartbeats go on during the drain.
func (p *Proxy) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return ErrRunTwice
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = p.monitor.Run(ctx) }) // returns nil when ctx is done
	defer func() {
		wg.Wait()
		p.closeIdle()
	}()

	tick := time.NewTicker(p.opts.HeartbeatInterval)
	defer tick.Stop()
	// recheck fires when the earliest passive ejection ends, so that the
	// status follows without waiting for the next heartbeat.
	recheck := time.NewTimer(time.Hour)
	recheck.Stop()
	defer recheck.Stop()
	armRecheck := func() {
		if d, ok := p.nextEjectionEnd(); ok {
			recheck.Reset(d)
		}
	}

	changed := p.opts.Changed()
	p.sync()
	p.refresh(true)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
			changed = p.opts.Changed() // before reading the snapshot, so no swap is missed
			p.sync()
			p.refresh(false)
		case <-tick.C:
			p.refresh(true)
		case <-p.kick:
			p.refresh(false)
			armRecheck()
		case <-recheck.C:
			p.refresh(false)
			armRecheck()
		}
	}
}

// sync brings the table up to the current snapshot. The snapshot is read
// under recMu, so a caller that read an older one cannot install it after
// a newer one.
func (p *Proxy) sync() {
	p.recMu.Lock()
	defer p.recMu.Unlock()
	if snap := p.opts.Snapshot(); snap != nil {
		p.reconcile(snap)
		p.built.Store(true)
	}
}

// reconcile builds the table of snap, points the active checks at its
// backends and swaps it in. Called with recMu held.
func (p *Proxy) reconcile(snap *gslb.Snapshot) {
	p.mu.Lock()
	res := p.build(snap)
	p.mu.Unlock()

	// Set waits for removed checks to stop; their callbacks take p.mu, so
	// it must not be held here.
	err := p.monitor.Set(res.checks)

	p.mu.Lock()
	defer p.mu.Unlock()
	// The registry first, then the check states: a transition reported
	// before this point is in the monitor's snapshot, one reported after
	// finds the new registry (onCheck waits for p.mu).
	p.backends, p.cores = res.backends, res.cores
	monitored := p.monitor.Snapshot()
	for addr, b := range res.backends {
		if st, ok := monitored[addr]; ok {
			b.active.Store(st.Up) // the check's initial_state until its first result
		} else {
			b.active.Store(true) // no check: up unless passively ejected
		}
	}
	old := p.table.Swap(res.table)
	for k, t := range p.transports {
		if res.trs[k] == nil {
			t.CloseIdleConnections()
		}
	}
	p.transports = res.trs
	if old != nil {
		for _, pl := range old.pools {
			if !slices.ContainsFunc(res.table.pools, func(n *pool) bool { return n.name == pl.name }) {
				p.m.forget(pl.name)
				delete(p.pm, pl.name)
			}
		}
	}

	if w := strings.Join(res.warnings, "; "); w != p.warnings {
		p.warnings = w
		for _, s := range res.warnings {
			p.logger.Warn("pool configuration conflict", "reason", s)
		}
	}
	checkErr := ""
	if err != nil {
		checkErr = err.Error()
	}
	if checkErr != p.checkErr {
		p.checkErr = checkErr
		if err != nil {
			p.logger.Error("backend checks not applied", "err", err)
		}
	}
}

// onCheck applies a change of a backend's active check. It runs on the
// check's goroutine.
func (p *Proxy) onCheck(tr probes.Transition) {
	p.mu.Lock()
	b := p.backends[tr.Target]
	if b != nil {
		b.active.Store(tr.Up)
	}
	p.mu.Unlock()
	if b == nil {
		return
	}
	if tr.Up != tr.Prev {
		state := "down"
		if tr.Up {
			state = "up"
		}
		p.logger.Info("backend "+state, "backend", tr.Target, "reason", tr.Result.Detail)
	}
	p.poke()
}

// poke asks Run to refresh the status soon. It never blocks.
func (p *Proxy) poke() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// ejected is called on the request path when a failure ejects b.
func (p *Proxy) ejected(b *backend, err error) {
	p.m.ejections.Inc()
	p.logger.Warn("backend ejected", "backend", b.addr,
		"reason", fmt.Sprintf("%d consecutive failed attempts; out for %v", maxFails, ejectFor), "err", err)
	p.poke()
}

// nextEjectionEnd returns the time until the earliest passive ejection ends.
func (p *Proxy) nextEjectionEnd() (time.Duration, bool) {
	now := time.Now().UnixNano()
	var soonest int64
	for _, pl := range p.table.Load().pools {
		for _, m := range pl.core.members {
			if u := m.b.ejectedUntil.Load(); u > now && (soonest == 0 || u < soonest) {
				soonest = u
			}
		}
	}
	if soonest == 0 {
		return 0, false
	}
	return time.Duration(soonest - now), true
}

// refresh updates the backend gauges and publishes the status when it
// changed, or always when force is set.
func (p *Proxy) refresh(force bool) {
	for _, pl := range p.table.Load().pools {
		up, total := pl.counts()
		pl.m.up.Set(float64(up))
		pl.m.down.Set(float64(total - up))
	}
	p.publish(force)
}

// publish calls Publish with the current status if it differs from the last
// one published in what the GSLB acts on, or when force is set.
func (p *Proxy) publish(force bool) {
	if p.opts.Publish == nil {
		return
	}
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	s := p.Status()
	if !force && p.published && s.HealthyBackends == p.last.HealthyBackends &&
		s.TotalBackends == p.last.TotalBackends && s.Draining == p.last.Draining {
		return
	}
	p.opts.Publish(s)
	p.last, p.published = s, true
}

// Status returns the proxy's status as published in its heartbeat.
// Healthy and total backends are summed over the region's pools (a backend
// in two pools counts twice).
func (p *Proxy) Status() gslb.ProxyStatus {
	up, total := p.table.Load().counts()
	return gslb.ProxyStatus{
		Address:         p.opts.Advertise,
		HealthyBackends: up,
		TotalBackends:   total,
		Draining:        p.draining.Load(),
		InFlight:        p.inFlight.Load(),
		Updated:         time.Now().UTC(),
		Region:          p.opts.Region,
		Instance:        p.opts.Instance,
	}
}

// Healthy reports whether the proxy can serve: it is not draining and some
// pool has an available backend or a spill-over proxy.
func (p *Proxy) Healthy() bool {
	if p.draining.Load() {
		return false
	}
	for _, pl := range p.table.Load().pools {
		if pl.canServe() {
			return true
		}
	}
	return false
}

// Drain announces that the proxy is going away (Status().Draining, published
// at once), then waits for the drain period or ctx, whichever ends first.
// The proxy keeps serving meanwhile, closing client connections after each
// response so that clients reconnect to addresses DNS now gives them.
// Draining cannot be undone. Calls after the first wait for the same
// deadline.
func (p *Proxy) Drain(ctx context.Context) {
	p.drainOnce.Do(func() {
		d := p.drainPeriod()
		p.drainDeadline = time.Now().Add(d)
		p.draining.Store(true)
		p.logger.Info("draining", "reason", fmt.Sprintf("waiting %v for resolvers to forget this proxy", d))
		p.publish(true)
		p.poke()
	})
	t := time.NewTimer(time.Until(p.drainDeadline))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// drainPeriod resolves Options.DrainPeriod.
func (p *Proxy) drainPeriod() time.Duration {
	if p.opts.DrainPeriod != DrainAuto {
		return p.opts.DrainPeriod
	}
	snap := p.opts.Snapshot()
	if snap == nil {
		return 0
	}
	return autoDrain(snap, p.opts.Region)
}

// autoDrain is the longest TTL of the services that may answer region,
// capped at MaxAutoDrain.
func autoDrain(snap *gslb.Snapshot, region string) time.Duration {
	var d time.Duration
	for _, name := range snap.Services() {
		svc := snap.Service(name)
		lists := slices.Contains(svc.Regions, region)
		for _, o := range svc.Overrides {
			lists = lists || slices.Contains(o.Regions, region)
		}
		if lists {
			d = max(d, svc.TTL.D())
		}
	}
	return min(d, MaxAutoDrain)
}

// Serve serves HTTP on ln until ctx is done, then drains (Drain), stops
// accepting connections and waits up to ShutdownGrace for in-flight
// requests before closing what remains. It returns nil after a clean
// shutdown.
func (p *Proxy) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       serverIdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// Bodies and responses may stream for long (uploads, downloads,
		// server-sent events): no ReadTimeout or WriteTimeout.
		ErrorLog: slog.NewLogLogger(p.logger.Handler(), slog.LevelDebug),
	}
	if !p.built.Load() {
		// Run may not have applied the first snapshot yet; the first
		// requests must not get 404s for pools that exist.
		p.sync()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("regionproxy: serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}

	p.Drain(context.WithoutCancel(ctx))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.ShutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		_ = srv.Close() // what is left after the grace period is cut off
		err = fmt.Errorf("regionproxy: shutdown %s: in-flight requests cut off after %v: %w", ln.Addr(), p.opts.ShutdownGrace, err)
	}
	<-errc // http.ErrServerClosed
	p.closeIdle()
	return err
}

// closeIdle closes idle backend connections (their goroutines exit).
func (p *Proxy) closeIdle() {
	p.mu.Lock()
	trs := slices.Collect(maps.Values(p.transports))
	p.mu.Unlock()
	for _, t := range trs {
		t.CloseIdleConnections()
	}
}

// bufferPool recycles the 32 KiB buffers ReverseProxy copies bodies with.
// It stores array pointers so that Put does not allocate.
type bufferPool struct{ p sync.Pool }

const copyBufferSize = 32 << 10

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[copyBufferSize]byte); ok {
		return v[:]
	}
	return make([]byte, copyBufferSize)
}

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) >= copyBufferSize {
		b.p.Put((*[copyBufferSize]byte)(buf[:copyBufferSize]))
	}
}
