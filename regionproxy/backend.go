package regionproxy

import (
	"net/url"
	"sync/atomic"
	"time"
)

// Passive health checking. A backend whose attempts fail maxFails times in a
// row (dial errors, resets, timeouts: transport errors, not 5xx responses,
// which are the backend's answer) is ejected for ejectFor. NGINX's
// max_fails=1/fail_timeout=10s ejects on one failure, which a single reset
// connection triggers; Envoy waits for 5. Three catches a dead backend within
// a few requests (each of which is retried elsewhere) without ejecting a
// healthy one for one lost connection. Ten seconds is long enough that a
// dead backend costs few failed attempts, short enough that a recovered one
// is back quickly even without an active check (with one, a dead backend
// is also marked down by the check within fall × interval).
const (
	maxFails = 3
	ejectFor = 10 * time.Second
)

// backend is the live state of one upstream address: a local backend, or a
// proxy of another region (spill). Local backends are shared by every pool
// of the region that lists the address and survive snapshot swaps; spill
// targets are rebuilt with each table. Every field is an atomic: the request
// path reads and writes them without locks.
type backend struct {
	addr  string   // host:port
	url   *url.URL // http://addr, for ProxyRequest.SetURL
	spill bool     // a proxy of another region: no passive state

	active       atomic.Bool  // verdict of the active check; true when there is none
	fails        atomic.Int32 // consecutive failed attempts
	ejectedUntil atomic.Int64 // Unix nanoseconds; 0 when not ejected
	inflight     atomic.Int64 // attempts being served, for least_request
}

func newBackend(addr string, spill bool) *backend {
	b := &backend{addr: addr, url: &url.URL{Scheme: "http", Host: addr}, spill: spill}
	b.active.Store(true)
	return b
}

// available reports whether the backend may take a request: its active
// check passes (or it has none) and it is not passively ejected.
func (b *backend) available() bool {
	if !b.active.Load() {
		return false
	}
	until := b.ejectedUntil.Load()
	if until == 0 {
		return true // the common case reads no clock
	}
	if time.Now().UnixNano() < until {
		return false
	}
	b.ejectedUntil.CompareAndSwap(until, 0)
	return true
}

// success records an attempt that got a response.
func (b *backend) success() {
	if b.fails.Load() != 0 { // avoid writing a shared cache line on every request
		b.fails.Store(0)
	}
}

// failure records a failed attempt and reports whether it ejected the
// backend.
func (b *backend) failure() bool {
	if b.spill {
		return false
	}
	n := b.fails.Add(1)
	if n < maxFails || !b.fails.CompareAndSwap(n, 0) {
		return false // below the threshold, or a concurrent failure ejects it
	}
	b.ejectedUntil.Store(time.Now().Add(ejectFor).UnixNano())
	return true
}

// member is a backend as a pool lists it, with that pool's weight.
type member struct {
	b      *backend
	weight int
}

// eligible reports whether b may take the next attempt of a request that has
// already tried the backends in tried.
func eligible(b *backend, tried []*backend) bool {
	if !b.available() {
		return false
	}
	for _, t := range tried {
		if t == b {
			return false
		}
	}
	return true
}
