package regionproxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/probes"
	"github.com/prometheus/client_golang/prometheus"
)

// table is everything the request path needs from one snapshot, built when
// the snapshot changes and swapped in with an atomic.Pointer. Nothing in it
// changes after it is stored, apart from the atomics inside backends and
// balancers.
type table struct {
	snap  *gslb.Snapshot
	hosts map[string]*pool // exact host names
	any   *pool            // the "*" pool, if any
	pools []*pool          // sorted by name
	// known are the proxy addresses of every region: a request from one of
	// them is spill-over, whose forwarding headers are kept.
	known map[netip.Addr]struct{}
}

// pool is one gslb.Pool of the region, ready to serve.
type pool struct {
	name    string
	cfg     *gslb.Pool
	core    *poolCore
	retries int
	tr      *http.Transport // to backends
	spillTr *http.Transport // to other regions' proxies
	spill   []spillRegion
	m       *poolMetrics
}

// poolCore is the part of a pool that depends only on its balancer and
// backends. It is kept across snapshots while those do not change, so that
// balancer state (the round-robin position) survives the frequent snapshot
// swaps that heartbeats cause.
type poolCore struct {
	fingerprint string
	members     []member
	bal         balancer
}

// spillRegion is a region that takes a pool's traffic when no local backend
// is available: the addresses of its proxies that are up in the snapshot.
type spillRegion struct {
	name    string
	targets []*backend
	count   prometheus.Counter
}

// pick returns a proxy of the region not yet tried, starting at a random
// one so that spilling proxies spread their load.
func (s *spillRegion) pick(tried []*backend) *backend {
	n := len(s.targets)
	if n == 0 {
		return nil
	}
	start := rand.IntN(n)
	for k := range n {
		if b := s.targets[(start+k)%n]; eligible(b, tried) {
			return b
		}
	}
	return nil
}

// match returns the pool for a Host header: exact name first, then "*".
func (t *table) match(host string) *pool {
	if p, ok := t.hosts[normalizeHost(host)]; ok {
		return p
	}
	return t.any
}

// normalizeHost strips the port and a trailing dot and lower-cases, without
// allocating when the host is already in that form (the usual case).
func normalizeHost(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && i > strings.LastIndexByte(h, ']') {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	for i := 0; i < len(h); i++ {
		if c := h[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}

// counts returns the up and total backends over all pools.
func (t *table) counts() (up, total int) {
	for _, p := range t.pools {
		u, n := p.counts()
		up += u
		total += n
	}
	return up, total
}

func (p *pool) counts() (up, total int) {
	for _, m := range p.core.members {
		if m.b.available() {
			up++
		}
	}
	return up, len(p.core.members)
}

// canServe reports whether the pool has an available backend or a
// spill-over proxy.
func (p *pool) canServe() bool {
	for _, m := range p.core.members {
		if m.b.available() {
			return true
		}
	}
	for _, s := range p.spill {
		if len(s.targets) > 0 {
			return true
		}
	}
	return false
}

// buildResult is a table and what reconcile must apply with it.
type buildResult struct {
	table    *table
	checks   map[string]probes.Check // monitor targets: backend address -> check
	backends map[string]*backend     // every local backend in use
	cores    map[string]*poolCore    // by pool name
	trs      map[transportKey]*http.Transport
	warnings []string // configuration conflicts, logged when they change
}

// build makes the table for snap. It reuses backends, pool cores and
// transports from the previous build (prev*) where they still apply.
// Called with p.mu held.
func (p *Proxy) build(snap *gslb.Snapshot) buildResult {
	res := buildResult{
		table: &table{
			snap:  snap,
			hosts: map[string]*pool{},
			known: map[netip.Addr]struct{}{},
		},
		checks:   map[string]probes.Check{},
		backends: map[string]*backend{},
		cores:    map[string]*poolCore{},
		trs:      map[transportKey]*http.Transport{},
	}
	t := res.table
	for _, name := range snap.Regions() {
		for _, a := range snap.Region(name).Proxies {
			t.known[a.Unmap()] = struct{}{}
		}
	}
	checkOwner := map[string]string{} // backend address -> pool whose check it runs
	for _, cfg := range snap.Pools(p.opts.Region) {
		pl := &pool{name: cfg.Name, cfg: cfg, retries: gslb.DefaultRetries, m: p.poolMetrics(cfg.Name)}
		if cfg.Retries != nil {
			pl.retries = *cfg.Retries
		}

		// Backends, shared by address across pools and snapshots.
		for _, be := range cfg.Backends {
			b := res.backends[be.Address]
			if b == nil {
				b = p.backends[be.Address]
			}
			if b == nil {
				b = newBackend(be.Address, false)
			}
			res.backends[be.Address] = b
		}
		fp := fingerprint(cfg)
		core := p.cores[cfg.Name]
		if core == nil || core.fingerprint != fp {
			core = &poolCore{fingerprint: fp}
			for _, be := range cfg.Backends {
				core.members = append(core.members, member{b: res.backends[be.Address], weight: max(be.Weight, 1)})
			}
			core.bal = newBalancer(cfg.Balancer, core.members)
		}
		res.cores[cfg.Name] = core
		pl.core = core

		// Active check.
		if len(cfg.Check) > 0 {
			c, err := decodeCheck(cfg.Check)
			if err != nil {
				res.warnings = append(res.warnings, fmt.Sprintf("pool %s: check ignored, backends are held up by passive checks only: %v", cfg.Name, err))
			} else {
				for _, be := range cfg.Backends {
					owner, dup := checkOwner[be.Address]
					switch {
					case !dup:
						checkOwner[be.Address] = cfg.Name
						res.checks[be.Address] = c
					case res.checks[be.Address] != c:
						res.warnings = append(res.warnings, fmt.Sprintf("backend %s: pools %s and %s define different checks; the check of %s applies to both", be.Address, owner, cfg.Name, owner))
					}
				}
			}
		}

		// Transports.
		k := transportKey{connect: cfg.ConnectTimeout.D(), response: cfg.ResponseTimeout.D()}
		if k.connect <= 0 {
			k.connect = gslb.DefaultConnectTimeout
		}
		if k.response <= 0 {
			k.response = gslb.DefaultResponseTimeout
		}
		pl.tr = p.transportFor(res.trs, k)
		k.spill = true
		pl.spillTr = p.transportFor(res.trs, k)

		// Spill-over targets: the up proxies of each region, in order.
		for _, rname := range cfg.Spillover {
			region := snap.Region(rname)
			health, ok := snap.RegionHealth(rname)
			if region == nil || !ok || region.Disabled {
				continue
			}
			sr := spillRegion{name: rname, count: p.m.spillover.WithLabelValues(cfg.Name, rname)}
			port := strconv.Itoa(region.HTTPPort)
			for _, a := range health.Up {
				if a.Unmap() == p.opts.Advertise {
					continue
				}
				sr.targets = append(sr.targets, newBackend(net.JoinHostPort(a.Unmap().String(), port), true))
			}
			pl.spill = append(pl.spill, sr)
		}

		// Host names: the first pool (by name) to claim one keeps it.
		for _, h := range cfg.Hosts {
			if h == "*" {
				if t.any != nil {
					res.warnings = append(res.warnings, fmt.Sprintf("pools %s and %s both serve \"*\"; %s wins", t.any.name, cfg.Name, t.any.name))
					continue
				}
				t.any = pl
				continue
			}
			h = normalizeHost(h)
			if other, dup := t.hosts[h]; dup {
				res.warnings = append(res.warnings, fmt.Sprintf("pools %s and %s both serve host %s; %s wins", other.name, cfg.Name, h, other.name))
				continue
			}
			t.hosts[h] = pl
		}
		t.pools = append(t.pools, pl)
	}
	return res
}

// fingerprint is what a pool's core depends on.
func fingerprint(cfg *gslb.Pool) string {
	var b strings.Builder
	b.WriteString(cfg.Balancer)
	for _, be := range cfg.Backends {
		fmt.Fprintf(&b, "|%s=%d", be.Address, be.Weight)
	}
	return b.String()
}

// decodeCheck decodes a pool's check as strictly as policy is decoded and
// validates it.
func decodeCheck(raw json.RawMessage) (probes.Check, error) {
	var c probes.Check
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return probes.Check{}, err
	}
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return probes.Check{}, err
	}
	return c, nil
}

// transportFor returns the transport for k, reusing the previous build's.
// Called with p.mu held.
func (p *Proxy) transportFor(trs map[transportKey]*http.Transport, k transportKey) *http.Transport {
	if t := trs[k]; t != nil {
		return t
	}
	t := p.transports[k]
	if t == nil {
		var src netip.Addr
		if p.bindSpill {
			src = p.opts.Advertise
		}
		t = newTransport(p.opts.Transport, k, src)
	}
	trs[k] = t
	return t
}

// poolMetrics returns the cached series of a pool. Called with p.mu held.
func (p *Proxy) poolMetrics(name string) *poolMetrics {
	pm := p.pm[name]
	if pm == nil {
		pm = p.m.forPool(name)
		p.pm[name] = pm
	}
	return pm
}
