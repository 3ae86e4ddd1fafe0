package geo_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/meridian-gslb/meridian/gslb/geo"
	"github.com/meridian-gslb/meridian/gslb/geo/geotest"
)

func ExampleChain() {
	// Operator networks first, then the database (nil here: none configured).
	nets := geo.NewNetworks([]geo.Network{
		{Name: "dublin-office", Prefix: netip.MustParsePrefix("192.0.2.0/24"), Location: geo.Location{Country: "IE"}},
	})
	var db *geo.MMDB
	loc, ok := geo.Chain{nets, db}.Locate(netip.MustParseAddr("192.0.2.10"))
	fmt.Println(ok, loc.Country, loc.Continent, loc.Source, loc.Bits)

	virginia := geo.Location{Lat: 39.04, Lon: -77.49, HasCoords: true}
	fmt.Printf("%.0f km\n", geo.DistanceKm(loc, virginia))
	// Output:
	// true IE EU network:dublin-office 24
	// 5332 km
}

// TestGeotestForOtherPackages uses the helper the way the DNS server and
// end-to-end tests do: from outside the package.
func TestGeotestForOtherPackages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	geotest.WriteCityDB(t, path, []geotest.Record{
		{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Country: "IE", Continent: "EU", Lat: 53.35, Lon: -6.26},
		{Prefix: netip.MustParsePrefix("::1/128"), Country: "SG", Continent: "AS", NoCoords: true},
		{Prefix: netip.MustParsePrefix("::ffff:10.0.0.0/104"), Country: "US", Continent: "NA", Lat: 39.04, Lon: -77.49},
	})
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("WriteCityDB wrote nothing: %v", err)
	}
	db, err := geo.OpenMMDB(path)
	if err != nil {
		t.Fatalf("OpenMMDB: %v", err)
	}
	defer db.Close()
	tests := []struct {
		addr, wantCountry, wantSource string
		wantBits                      int
	}{
		{"127.0.0.1", "IE", geo.SourceMMDB, 8},
		{"::1", "SG", geo.SourceMMDBCountryCentroid, 128},
		{"10.1.2.3", "US", geo.SourceMMDB, 8},
	}
	for _, tc := range tests {
		got, ok := db.Locate(netip.MustParseAddr(tc.addr))
		if !ok || got.Country != tc.wantCountry || got.Source != tc.wantSource || got.Bits != tc.wantBits {
			t.Errorf("Locate(%s) = %+v, %v; want %s from %s /%d", tc.addr, got, ok, tc.wantCountry, tc.wantSource, tc.wantBits)
		}
	}
}
