package geo

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"
)

// A GeoIP lookup walks the database's tree and decodes a record: a few
// hundred nanoseconds, the largest part of steering a query. Resolvers
// ask again and again from the same few networks (and ECS subnets are
// already cut to /24 or /56), so MMDB.Locate keeps its recent results in
// a small direct-mapped cache keyed by the client's /24 (IPv4) or /56
// (IPv6). A result is cached only when the database network it came from
// (hit or miss) covers that whole prefix: then every address in it has
// the same answer, so the cache can never answer differently from the
// database. A database never changes under a *MMDB, so nothing expires.
//
// Entries are immutable and swapped in with an atomic pointer: readers
// take no lock, and a miss costs one small allocation. Under a flood from
// random addresses the entries are simply overwritten; the memory is the
// table's, bounded.

const (
	locCacheBits = 12 // 4096 entries, about 32 KiB of pointers
	cacheSpanV4  = 8  // the key is the /24 ...
	cacheSpanV6  = 72 // ... or the /56
)

type locEntry struct {
	key netip.Addr
	loc Location
	ok  bool
}

type locCache struct {
	slots [1 << locCacheBits]atomic.Pointer[locEntry]
}

// cacheSpan is the number of low address bits a key leaves out.
func cacheSpan(key netip.Addr) int {
	if key.Is4() {
		return cacheSpanV4
	}
	return cacheSpanV6
}

// cacheKey is the prefix of addr (unmapped, no zone) the cache keys on.
func cacheKey(addr netip.Addr) (netip.Addr, bool) {
	p, err := addr.Prefix(addr.BitLen() - cacheSpan(addr))
	if err != nil {
		return netip.Addr{}, false
	}
	return p.Addr(), true
}

func (c *locCache) slot(key netip.Addr) *atomic.Pointer[locEntry] {
	a := key.As16()
	h := binary.LittleEndian.Uint64(a[:8])*0x9e3779b97f4a7c15 ^ binary.LittleEndian.Uint64(a[8:])*0xc2b2ae3d27d4eb4f
	return &c.slots[h>>(64-locCacheBits)]
}

func (c *locCache) get(key netip.Addr) (Location, bool, bool) {
	e := c.slot(key).Load()
	if e == nil || e.key != key {
		return Location{}, false, false
	}
	return e.loc, e.ok, true
}

func (c *locCache) put(key netip.Addr, loc Location, ok bool) {
	c.slot(key).Store(&locEntry{key: key, loc: loc, ok: ok})
}
