package geo

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func testNetworks() []Network {
	return []Network{
		{Name: "corp", Prefix: netip.MustParsePrefix("10.0.0.0/8"), Location: Location{Country: "IE"}},
		{Name: "corp-us", Prefix: netip.MustParsePrefix("10.1.0.0/16"), Location: Location{Country: "US", Lat: 39.04, Lon: -77.49, HasCoords: true}},
		{Name: "lab", Prefix: netip.MustParsePrefix("10.1.2.0/24"), Location: Location{Country: "sg"}},
		{Name: "host", Prefix: netip.MustParsePrefix("10.1.2.3/32"), Location: Location{Continent: "oc"}},
		{Name: "v6", Prefix: netip.MustParsePrefix("2001:db8::/32"), Location: Location{Country: "DE"}},
		{Name: "v6-site", Prefix: netip.MustParsePrefix("2001:db8:1::/48"), Location: Location{Country: "JP", Continent: "AS"}},
		{Name: "mapped", Prefix: netip.MustParsePrefix("::ffff:192.0.2.0/120"), Location: Location{Country: "FR"}},
		{Name: "unmasked", Prefix: netip.MustParsePrefix("198.51.100.77/24"), Location: Location{Country: "NL"}},
		{Name: "blank", Prefix: netip.MustParsePrefix("203.0.113.0/24"), Location: Location{Country: "UK"}},
		{Name: "bad-coords", Prefix: netip.MustParsePrefix("2001:db8:bad::/48"), Location: Location{Country: "DE", Lat: 100, Lon: 8, HasCoords: true}},
		{Name: "invalid", Prefix: netip.Prefix{}, Location: Location{Country: "IE"}},
	}
}

func netLoc(name, cc, cont string, lat, lon float64, bits int) Location {
	return Location{Lat: lat, Lon: lon, HasCoords: true, Country: cc, Continent: cont, Source: "network:" + name, Bits: bits}
}

func TestNetworksLocate(t *testing.T) {
	n := NewNetworks(testNetworks())
	ie, sg, de := countries[mustIndex(t, "IE")], countries[mustIndex(t, "SG")], countries[mustIndex(t, "DE")]
	jp, fr, nl := countries[mustIndex(t, "JP")], countries[mustIndex(t, "FR")], countries[mustIndex(t, "NL")]
	oc, _ := lookupContinent("OC")
	tests := []struct {
		name   string
		addr   string
		want   Location
		wantOK bool
	}{
		{
			name: "covering /8, scope widened past the nested /16",
			// 10.2.x shares 14 bits with 10.1.0.0/16: a /8 scope would
			// let a resolver serve this answer to corp-us clients.
			addr: "10.2.3.4", want: netLoc("corp", "IE", "EU", ie.lat, ie.lon, 15), wantOK: true,
		},
		{
			name: "covering /8 far from nested networks",
			addr: "10.200.0.1", want: netLoc("corp", "IE", "EU", ie.lat, ie.lon, 9), wantOK: true,
		},
		{
			name: "/16 with coordinates kept",
			addr: "10.1.200.1", want: netLoc("corp-us", "US", "NA", 39.04, -77.49, 17), wantOK: true,
		},
		{
			name: "/24 inside /16 inside /8, country upper-cased",
			addr: "10.1.2.200", want: netLoc("lab", "SG", "AS", sg.lat, sg.lon, 25), wantOK: true,
		},
		{
			name: "/32 host, continent only gets the continent point",
			addr: "10.1.2.3", want: netLoc("host", "", "OC", oc.lat, oc.lon, 32), wantOK: true,
		},
		{
			name: "IPv4-mapped IPv6 address is unmapped, scope in IPv4 bits",
			addr: "::ffff:10.1.2.3", want: netLoc("host", "", "OC", oc.lat, oc.lon, 32), wantOK: true,
		},
		{
			name: "mapped prefix stored as IPv4",
			addr: "192.0.2.9", want: netLoc("mapped", "FR", "EU", fr.lat, fr.lon, 24), wantOK: true,
		},
		{
			name: "unmasked prefix is masked",
			addr: "198.51.100.1", want: netLoc("unmasked", "NL", "EU", nl.lat, nl.lon, 24), wantOK: true,
		},
		{
			name: "IPv6 /32",
			addr: "2001:db8:ffff::1", want: netLoc("v6", "DE", "EU", de.lat, de.lon, 33), wantOK: true,
		},
		{
			name: "IPv6 /48 inside /32",
			addr: "2001:db8:1::53", want: netLoc("v6-site", "JP", "AS", jp.lat, jp.lon, 48), wantOK: true,
		},
		{
			name: "coordinates off the globe replaced by the centroid",
			addr: "2001:db8:bad::1", want: netLoc("bad-coords", "DE", "EU", de.lat, de.lon, 48), wantOK: true,
		},
		{
			name: "zone is ignored",
			addr: "2001:db8:1::53%eth0", want: netLoc("v6-site", "JP", "AS", jp.lat, jp.lon, 48), wantOK: true,
		},
		{
			// 11.0.0.0 shares 7 bits with 10.0.0.0/8, 192.0.2.0 shares 0.
			name: "IPv4 miss reports the empty block around the client",
			addr: "11.0.0.1", want: Location{Bits: 8},
		},
		{
			name: "IPv4 miss in the other half of the space",
			// 172 is 0b10101100; the other half's networks all start 0b11.
			addr: "172.16.0.1", want: Location{Bits: 2},
		},
		{
			name: "network whose only code is unknown (UK is GB) is a miss",
			addr: "203.0.113.5", want: Location{Bits: 24},
		},
		{
			name: "IPv6 miss",
			addr: "2001:db9::1", want: Location{Bits: 32},
		},
		{
			name: "IPv4 address does not match the IPv4-compatible IPv6 range",
			addr: "::10.1.2.3", want: Location{Bits: 3},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := netip.MustParseAddr(tc.addr)
			got, ok := n.Locate(addr)
			if ok != tc.wantOK {
				t.Errorf("Locate(%s) ok = %v, want %v", addr, ok, tc.wantOK)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Locate(%s) mismatch (-want +got):\n%s", addr, diff)
			}
		})
	}
	if got, want := n.Len(), 10; got != want {
		t.Errorf("Len() = %d, want %d (the invalid prefix is dropped)", got, want)
	}
}

func mustIndex(t *testing.T, cc string) int {
	t.Helper()
	k, ok := letterKey(cc)
	if !ok || countryIndex[k] == 0 {
		t.Fatalf("no country %q", cc)
	}
	return int(countryIndex[k] - 1)
}

func TestNetworksEmpty(t *testing.T) {
	var nilTable *Networks
	tests := []struct {
		name string
		n    *Networks
	}{
		{"nil table", nilTable},
		{"no networks", NewNetworks(nil)},
		{"only invalid networks", NewNetworks([]Network{{Name: "x"}})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, a := range []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1"), {}} {
				got, ok := tc.n.Locate(a)
				if ok || got != (Location{}) {
					t.Errorf("Locate(%v) = %+v, %v; want zero Location, false", a, got, ok)
				}
			}
			if got := tc.n.Len(); got != 0 {
				t.Errorf("Len() = %d, want 0", got)
			}
		})
	}
}

func TestNetworksDefaultRoute(t *testing.T) {
	n := NewNetworks([]Network{
		{Name: "everyone", Prefix: netip.MustParsePrefix("0.0.0.0/0"), Location: Location{Country: "IE"}},
		{Name: "everyone6", Prefix: netip.MustParsePrefix("::/0"), Location: Location{Country: "DE"}},
	})
	tests := []struct {
		addr     string
		wantName string
	}{
		{"1.2.3.4", "network:everyone"},
		{"255.255.255.255", "network:everyone"},
		{"::ffff:1.2.3.4", "network:everyone"},
		{"2001:db8::1", "network:everyone6"},
	}
	for _, tc := range tests {
		got, ok := n.Locate(netip.MustParseAddr(tc.addr))
		if !ok || got.Source != tc.wantName || got.Bits != 0 {
			t.Errorf("Locate(%s) = %q /%d, %v; want %q /0, true", tc.addr, got.Source, got.Bits, ok, tc.wantName)
		}
	}
}

func TestNetworksDuplicatePrefix(t *testing.T) {
	a := Network{Name: "a", Prefix: netip.MustParsePrefix("192.0.2.0/24"), Location: Location{Country: "IE"}}
	b := Network{Name: "b", Prefix: netip.MustParsePrefix("192.0.2.128/24"), Location: Location{Country: "DE"}}
	// Whatever the input order, the name that sorts first wins.
	for _, nets := range [][]Network{{a, b}, {b, a}} {
		n := NewNetworks(nets)
		got, _ := n.Locate(netip.MustParseAddr("192.0.2.1"))
		if got.Source != "network:a" || got.Country != "IE" {
			t.Errorf("NewNetworks(%s, %s).Locate = %q %q, want network:a IE", nets[0].Name, nets[1].Name, got.Source, got.Country)
		}
		if n.Len() != 1 {
			t.Errorf("Len() = %d, want 1", n.Len())
		}
	}
}

// naiveLocate is the obvious linear longest-prefix match the trie must agree with.
func naiveLocate(nets []Network, addr netip.Addr) (string, bool) {
	addr = addr.Unmap().WithZone("")
	best, bestBits := "", -1
	for _, nw := range nets {
		p, ok := normalizePrefix(nw.Prefix)
		if !ok || !p.Contains(addr) {
			continue
		}
		if p.Bits() > bestBits || (p.Bits() == bestBits && nw.Name < best) {
			best, bestBits = nw.Name, p.Bits()
		}
	}
	return best, bestBits >= 0
}

// FuzzNetworksLocate checks the trie against a linear scan, and the scope
// invariant: every address sharing Bits leading bits with the client gets
// the same network.
func FuzzNetworksLocate(f *testing.F) {
	for _, a := range []string{"10.2.3.4", "10.1.2.3", "::ffff:10.1.2.3", "2001:db8:1::53", "11.0.0.1", "::"} {
		b := netip.MustParseAddr(a).As16()
		f.Add(b[:], uint64(1))
	}
	nets := testNetworks()
	n := NewNetworks(nets)
	f.Fuzz(func(t *testing.T, raw []byte, seed uint64) {
		var b [16]byte
		copy(b[:], raw)
		addr := netip.AddrFrom16(b)
		if len(raw) == 4 {
			addr = netip.AddrFrom4([4]byte(raw))
		}
		got, ok := n.Locate(addr)
		name, found := naiveLocate(nets, addr)
		if wantOK := found && n.locs[indexOf(n, name)].Known(); ok != wantOK {
			t.Fatalf("Locate(%s) ok = %v, want %v (linear scan found %q)", addr, ok, wantOK, name)
		}
		if ok && got.Source != "network:"+name {
			t.Fatalf("Locate(%s) = %q, linear scan says network:%s", addr, got.Source, name)
		}
		// Flip random bits below the scope: the answer must not change.
		a := addr.Unmap()
		r := rand.New(rand.NewPCG(seed, 0))
		for range 8 {
			other := flipBelow(a, got.Bits, r)
			o, oOK := n.Locate(other)
			if oOK != ok || o.Source != got.Source {
				t.Fatalf("Locate(%s) = %q /%d, but %s (same first %d bits) = %q", a, got.Source, got.Bits, other, got.Bits, o.Source)
			}
		}
	})
}

func indexOf(n *Networks, name string) int {
	for i, l := range n.locs {
		if l.Source == "network:"+name {
			return i
		}
	}
	panic("no network " + name)
}

// flipBelow returns a with random bits at positions >= bits changed.
func flipBelow(a netip.Addr, bits int, r *rand.Rand) netip.Addr {
	if a.Is4() {
		b := a.As4()
		for i := bits; i < 32; i++ {
			if r.IntN(2) == 1 {
				b[i/8] ^= 0x80 >> (i % 8)
			}
		}
		return netip.AddrFrom4(b)
	}
	b := a.As16()
	for i := bits; i < 128; i++ {
		if r.IntN(2) == 1 {
			b[i/8] ^= 0x80 >> (i % 8)
		}
	}
	return netip.AddrFrom16(b)
}

func TestNetworksConcurrent(t *testing.T) {
	n := NewNetworks(testNetworks())
	want, _ := n.Locate(netip.MustParseAddr("10.1.2.200"))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				if got, _ := n.Locate(netip.MustParseAddr("10.1.2.200")); got != want {
					t.Errorf("concurrent Locate = %+v, want %+v", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkNetworksLocate(b *testing.B) {
	// A realistic operator table: a few hundred office and PoP networks.
	var nets []Network
	for i := range 256 {
		nets = append(nets,
			Network{Name: fmt.Sprintf("v4-%d", i), Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 16), Location: Location{Country: "IE"}},
			Network{Name: fmt.Sprintf("v4s-%d", i), Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 7, 0}), 24), Location: Location{Country: "DE"}},
			Network{Name: fmt.Sprintf("v6-%d", i), Prefix: netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i), 1}), 48), Location: Location{Country: "US"}},
		)
	}
	n := NewNetworks(nets)
	addrs := []netip.Addr{
		netip.MustParseAddr("10.42.7.9"),        // /24 inside /16
		netip.MustParseAddr("10.42.8.9"),        // /16
		netip.MustParseAddr("2001:db8:2a01::1"), // /48
		netip.MustParseAddr("192.0.2.1"),        // miss
	}
	for _, a := range addrs {
		b.Run(a.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				n.Locate(a)
			}
		})
	}
}
