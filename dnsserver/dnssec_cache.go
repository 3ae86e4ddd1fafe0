package dnsserver

import (
	"sync/atomic"

	"github.com/miekg/dns"
)

// sigKey identifies the signatures of one RRset: who signs it (zone), its
// owner, type and TTL, and two independent 64-bit hashes of its records in
// wire form, summed so that the order of the records does not matter
// (steered answers are rotated per query; the signature covers the
// canonical order). A collision would serve a signature that does not
// verify for one RRset (a validation failure, not a forgery); at 128 bits
// it does not happen.
type sigKey struct {
	zone   string
	owner  string
	rrtype uint16
	ttl    uint32
	h1, h2 uint64
}

// sigEntry is an immutable cached result but for ref.
type sigEntry struct {
	key     sigKey
	sigs    []dns.RR // one RRSIG per key of the zone; shared, never modified
	refresh int64    // unix seconds after which the entry is re-signed
	ref     atomic.Bool
}

// cacheWays is the associativity: a key can live in any of the 4 slots of
// its set. 4 makes an unlucky set-conflict eviction of a hot entry rare and
// keeps a lookup to 4 pointer loads.
const cacheWays = 4

// sigCache is a bounded, lock-free signature cache: a set-associative
// table of atomic pointers with second-chance (clock) replacement inside
// each set. Readers never block and writers never wait: a lost race
// between two writers costs one extra signature later, never a wrong one.
// The query path takes no lock (the house rule).
type sigCache struct {
	sets []sigSet
}

type sigSet struct {
	ways [cacheWays]atomic.Pointer[sigEntry]
}

func newSigCache(size int) *sigCache {
	n := max(1, (size+cacheWays-1)/cacheWays)
	return &sigCache{sets: make([]sigSet, n)}
}

func (c *sigCache) set(k *sigKey) *sigSet {
	return &c.sets[k.h1%uint64(len(c.sets))]
}

// get returns the signatures of k if they are cached and not due for
// refresh at now (unix seconds).
func (c *sigCache) get(k *sigKey, now int64) []dns.RR {
	s := c.set(k)
	for i := range s.ways {
		e := s.ways[i].Load()
		if e == nil || e.key != *k {
			continue
		}
		if now >= e.refresh {
			return nil
		}
		if !e.ref.Load() {
			e.ref.Store(true)
		}
		return e.sigs
	}
	return nil
}

// put stores e: in the slot that holds its key, an empty one or one due
// for refresh at now, else over the first entry not used since the sweep
// last passed it, clearing the use bit of those it passes (second chance).
func (c *sigCache) put(e *sigEntry, now int64) {
	s := c.set(&e.key)
	for i := range s.ways {
		if old := s.ways[i].Load(); old == nil || old.key == e.key || now >= old.refresh {
			s.ways[i].Store(e)
			return
		}
	}
	for range 2 {
		for i := range s.ways {
			old := s.ways[i].Load()
			if old == nil || !old.ref.Load() {
				s.ways[i].Store(e)
				return
			}
			old.ref.Store(false)
		}
	}
	// Every entry was used again while we swept: take the slot the hash
	// points at.
	s.ways[e.key.h2%cacheWays].Store(e)
}

// len counts the entries (for tests).
func (c *sigCache) len() int {
	n := 0
	for i := range c.sets {
		for j := range c.sets[i].ways {
			if c.sets[i].ways[j].Load() != nil {
				n++
			}
		}
	}
	return n
}
