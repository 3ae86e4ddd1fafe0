package geo

import (
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/meridian-gslb/meridian/gslb/geo/geotest"
)

func TestLocationKnown(t *testing.T) {
	tests := []struct {
		name string
		l    Location
		want bool
	}{
		{"zero", Location{}, false},
		{"only bits and source", Location{Bits: 24, Source: "mmdb"}, false},
		{"coords", Location{HasCoords: true}, true},
		{"country", Location{Country: "IE"}, true},
		{"continent", Location{Continent: "EU"}, true},
		{"lat/lon without HasCoords", Location{Lat: 1, Lon: 2}, false},
	}
	for _, tc := range tests {
		if got := tc.l.Known(); got != tc.want {
			t.Errorf("%s: %+v.Known() = %v, want %v", tc.name, tc.l, got, tc.want)
		}
	}
}

// fixed is a Locator that always answers the same.
type fixed struct {
	loc Location
	ok  bool
}

func (f fixed) Locate(netip.Addr) (Location, bool) { return f.loc, f.ok }

func TestChainLocate(t *testing.T) {
	ie := Location{Country: "IE", Source: "a", Bits: 16}
	de := Location{Country: "DE", Source: "b", Bits: 24}
	var nilNetworks *Networks
	var nilMMDB *MMDB
	tests := []struct {
		name   string
		chain  Chain
		want   Location
		wantOK bool
	}{
		{"empty", nil, Location{}, false},
		{"only nils", Chain{nil, nilNetworks, nilMMDB}, Location{}, false},
		{"first hit wins", Chain{fixed{ie, true}, fixed{de, true}}, ie, true},
		{"nil entries skipped", Chain{nil, fixed{de, true}}, de, true},
		{"typed nil locators miss", Chain{nilNetworks, nilMMDB, fixed{de, true}}, de, true},
		{
			"miss then hit: scope widened to the miss's empty block",
			Chain{fixed{Location{Bits: 28}, false}, fixed{de, true}},
			Location{Country: "DE", Source: "b", Bits: 28}, true,
		},
		{
			"miss then hit: the hit's scope when it is longer",
			Chain{fixed{Location{Bits: 8}, false}, fixed{de, true}},
			de, true,
		},
		{
			"all miss: the longest scope",
			Chain{fixed{Location{Bits: 12}, false}, fixed{Location{Bits: 7}, false}},
			Location{Bits: 12}, false,
		},
	}
	addr := netip.MustParseAddr("192.0.2.1")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.chain.Locate(addr)
			if ok != tc.wantOK {
				t.Errorf("Locate(%s) ok = %v, want %v", addr, ok, tc.wantOK)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Locate(%s) mismatch (-want +got):\n%s", addr, diff)
			}
		})
	}
}

// TestChainNetworksBeforeMMDB runs the real pair: an operator /24 inside a
// database /16.
func TestChainNetworksBeforeMMDB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	geotest.WriteCityDB(t, path, []geotest.Record{
		{Prefix: netip.MustParsePrefix("10.0.0.0/16"), Country: "US", Continent: "NA", Lat: 39.04, Lon: -77.49},
	})
	db := mustOpen(t, path)
	nets := NewNetworks([]Network{
		{Name: "dublin-office", Prefix: netip.MustParsePrefix("10.0.5.0/24"), Location: Location{Country: "IE"}},
	})
	chain := Chain{nets, db}
	tests := []struct {
		addr       string
		wantSource string
		wantBits   int
	}{
		{"10.0.5.9", "network:dublin-office", 24},
		// The database says /16, but a resolver may cache the answer for
		// no more than 10.0.4.0/24: 10.0.4.0/23 holds the office.
		{"10.0.4.9", "mmdb", 24},
		{"10.0.200.9", "mmdb", 17},
		{"::ffff:10.0.5.9", "network:dublin-office", 24},
	}
	for _, tc := range tests {
		got, ok := chain.Locate(netip.MustParseAddr(tc.addr))
		if !ok || got.Source != tc.wantSource || got.Bits != tc.wantBits {
			t.Errorf("Locate(%s) = %q /%d, %v; want %q /%d, true", tc.addr, got.Source, got.Bits, ok, tc.wantSource, tc.wantBits)
		}
	}
}

// FuzzChainLocate checks the invariants of a real chain (operator networks
// over a database) for any address: ok is Known(), coordinates are on the
// globe, codes are canonical, Bits is within the client's family, and every
// address sharing Bits leading bits with the client gets the very same
// Location, which is what makes Bits a safe ECS scope.
func FuzzChainLocate(f *testing.F) {
	path := filepath.Join(f.TempDir(), "city.mmdb")
	geotest.WriteCityDB(f, path, cityRecords)
	db, err := OpenMMDB(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = db.Close() })
	chain := Chain{NewNetworks(testNetworks()), db}
	for _, a := range []string{"81.2.69.142", "192.0.2.200", "10.1.2.3", "::ffff:10.2.3.4", "2001:db8:1::1", "2001:db8:2::1", "8.8.8.8", "::"} {
		b := netip.MustParseAddr(a).As16()
		f.Add(b[:], uint64(7))
	}
	f.Fuzz(func(t *testing.T, raw []byte, seed uint64) {
		var b [16]byte
		copy(b[:], raw)
		addr := netip.AddrFrom16(b)
		if len(raw) == 4 {
			addr = netip.AddrFrom4([4]byte(raw))
		}
		got, ok := chain.Locate(addr)
		if ok != got.Known() {
			t.Fatalf("Locate(%s) ok = %v but Known() = %v: %+v", addr, ok, got.Known(), got)
		}
		if got.HasCoords && !validCoords(got.Lat, got.Lon) {
			t.Fatalf("Locate(%s) coordinates off the globe: %+v", addr, got)
		}
		if got.Country != "" && !ValidCountry(got.Country) || got.Continent != "" && !ValidContinent(got.Continent) {
			t.Fatalf("Locate(%s) non-canonical codes: %+v", addr, got)
		}
		a := addr.Unmap()
		if got.Bits < 0 || got.Bits > a.BitLen() {
			t.Fatalf("Locate(%s) Bits = %d, outside 0..%d", addr, got.Bits, a.BitLen())
		}
		r := rand.New(rand.NewPCG(seed, 1))
		for range 8 {
			other := flipBelow(a, got.Bits, r)
			o, _ := chain.Locate(other)
			if o != got {
				t.Fatalf("Locate(%s) = %+v, but %s (same first %d bits) = %+v", a, got, other, got.Bits, o)
			}
		}
	})
}
