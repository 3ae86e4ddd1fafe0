package geo

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestLocateCacheAgrees: the cache never answers differently from the
// database, in any order of lookups: not where a /25 sits inside a /24
// (192.0.2.128/25 in 192.0.2.0/24), nor a /48 inside a /32, nor for
// misses.
func TestLocateCacheAgrees(t *testing.T) {
	var addrs []netip.Addr
	for i := range 256 {
		addrs = append(addrs, netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), netip.AddrFrom4([4]byte{81, 2, 69, byte(i)}),
			netip.AddrFrom4([4]byte{8, 8, 8, byte(i)}), netip.AddrFrom4([4]byte{100, 64, byte(i), 1}))
	}
	for _, s := range []string{"2001:db8::1", "2001:db8:1::1", "2001:db8:1:ff::1", "2001:db8:2::5", "2001:db8:3::1",
		"2001:db9::1", "::ffff:192.0.2.200", "::ffff:192.0.2.5", "fe80::1%eth0"} {
		addrs = append(addrs, netip.MustParseAddr(s))
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for round := range 3 {
		db := openCity(t)
		rng.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
		for pass := range 2 {
			for _, a := range addrs {
				got, gotOK := db.Locate(a)
				want, wantOK := db.lookup(clientAddr(a))
				if got != want || gotOK != wantOK {
					t.Fatalf("round %d pass %d: Locate(%v) = %+v, %v; the database says %+v, %v", round, pass, a, got, gotOK, want, wantOK)
				}
			}
		}
	}
}

// TestLocateCacheHits: a second client of the same /24 is answered from
// the cache, without allocating; a network longer than the key is never
// cached.
func TestLocateCacheHits(t *testing.T) {
	db := openCity(t)
	db.Locate(netip.MustParseAddr("81.2.69.1"))
	key, _ := cacheKey(netip.MustParseAddr("81.2.69.200"))
	if _, _, hit := db.cache.get(key); !hit {
		t.Fatal("81.2.69.0/24 not cached after a lookup in it")
	}
	other := netip.MustParseAddr("81.2.69.200")
	if n := testing.AllocsPerRun(100, func() { db.Locate(other) }); n != 0 {
		t.Errorf("a cached Locate allocates %v times", n)
	}
	db.Locate(netip.MustParseAddr("192.0.2.200")) // in the /25
	key, _ = cacheKey(netip.MustParseAddr("192.0.2.1"))
	if _, _, hit := db.cache.get(key); hit {
		t.Error("192.0.2.0/24 cached although a /25 inside it answers differently")
	}
}

func BenchmarkMMDBLocateCached(b *testing.B) {
	db := mustOpen(b, benchDB(b))
	addr := netip.MustParseAddr("81.2.69.160")
	b.ReportAllocs()
	for b.Loop() {
		db.Locate(addr)
	}
}
