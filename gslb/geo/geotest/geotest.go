// Package geotest writes small MaxMind DB files for tests, so tests of the
// DNS server, steering and end-to-end runs can use a real database without
// downloading one. Only tests should import it.
//
//	path := filepath.Join(t.TempDir(), "city.mmdb")
//	geotest.WriteCityDB(t, path, []geotest.Record{
//		{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Country: "IE", Continent: "EU", Lat: 53.35, Lon: -6.26},
//		{Prefix: netip.MustParsePrefix("2001:db8::/32"), Country: "SG", Continent: "AS", NoCoords: true},
//	})
//	db, err := geo.OpenMMDB(path)
package geotest

import (
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Record is one network of a test database.
type Record struct {
	Prefix    netip.Prefix
	Country   string // ISO code written as country.iso_code; "" leaves out country
	Continent string // written as continent.code; "" leaves out continent
	Lat, Lon  float64
	// NoCoords writes a location without latitude/longitude (only
	// accuracy_radius and time_zone), as MaxMind does for networks it can
	// place only at country level.
	NoCoords bool
}

// WriteCityDB writes a database of type "GeoIP2-City" to path with one
// City-shaped record per entry of recs. The tree is IPv6, so it holds IPv4
// and IPv6 networks; reserved ranges (127.0.0.0/8, 10.0.0.0/8, 192.0.2.0/24,
// 2001:db8::/32, ...) are allowed, since tests use them. Fields are written
// as given: a Record with a Country but no Continent has no continent in the
// database. A later Record replaces an earlier one where they overlap.
func WriteCityDB(t testing.TB, path string, recs []Record) {
	t.Helper()
	write(t, path, "GeoIP2-City", recs, cityRecord)
}

// WriteCountryDB writes a database of type "GeoIP2-Country": like
// WriteCityDB, but records have no location at all (Lat, Lon and NoCoords
// are ignored), as in the real Country databases.
func WriteCountryDB(t testing.TB, path string, recs []Record) {
	t.Helper()
	write(t, path, "GeoIP2-Country", recs, countryRecord)
}

func write(t testing.TB, path, dbType string, recs []Record, value func(Record) mmdbtype.Map) {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            dbType,
		Description:             map[string]string{"en": "meridian geotest database"},
		Languages:               []string{"en"},
		IncludeReservedNetworks: true,
		// A fixed build time keeps the file byte-for-byte reproducible.
		BuildEpoch: 1_700_000_000,
	})
	if err != nil {
		t.Fatalf("geotest: new tree: %v", err)
	}
	for _, r := range recs {
		p := r.Prefix
		if !p.IsValid() {
			t.Fatalf("geotest: invalid prefix %v", p)
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		p = p.Masked()
		ipnet := &net.IPNet{
			IP:   p.Addr().AsSlice(),
			Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
		}
		if err := tree.Insert(ipnet, value(r)); err != nil {
			t.Fatalf("geotest: insert %v: %v", p, err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("geotest: %v", err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		_ = f.Close()
		t.Fatalf("geotest: write %s: %v", path, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("geotest: close %s: %v", path, err)
	}
}

func countryRecord(r Record) mmdbtype.Map {
	m := mmdbtype.Map{}
	if r.Continent != "" {
		m["continent"] = mmdbtype.Map{
			"code":  mmdbtype.String(r.Continent),
			"names": mmdbtype.Map{"en": mmdbtype.String("Continent " + r.Continent)},
		}
	}
	if r.Country != "" {
		c := mmdbtype.Map{
			"iso_code": mmdbtype.String(r.Country),
			"names":    mmdbtype.Map{"en": mmdbtype.String("Country " + r.Country)},
		}
		m["country"] = c
		m["registered_country"] = c
	}
	return m
}

func cityRecord(r Record) mmdbtype.Map {
	m := countryRecord(r)
	loc := mmdbtype.Map{
		"accuracy_radius": mmdbtype.Uint16(100),
		"time_zone":       mmdbtype.String("UTC"),
	}
	if r.NoCoords {
		loc["accuracy_radius"] = mmdbtype.Uint16(1000)
	} else {
		loc["latitude"] = mmdbtype.Float64(r.Lat)
		loc["longitude"] = mmdbtype.Float64(r.Lon)
	}
	m["location"] = loc
	return m
}
