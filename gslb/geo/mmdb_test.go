package geo

import (
	"errors"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/meridian-gslb/meridian/gslb/geo/geotest"
	"github.com/oschwald/geoip2-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2"
)

var cityRecords = []geotest.Record{
	{Prefix: netip.MustParsePrefix("81.2.69.0/24"), Country: "GB", Continent: "EU", Lat: 51.5142, Lon: -0.0931},
	{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Country: "IE", Continent: "EU", Lat: 53.35, Lon: -6.26},
	{Prefix: netip.MustParsePrefix("192.0.2.128/25"), Country: "IE", Continent: "EU", Lat: 51.90, Lon: -8.47},
	{Prefix: netip.MustParsePrefix("198.51.100.0/24"), Country: "SG", Continent: "AS", NoCoords: true},
	{Prefix: netip.MustParsePrefix("203.0.113.0/24"), Continent: "OC", NoCoords: true},
	{Prefix: netip.MustParsePrefix("100.64.0.0/10"), Lat: 40.71, Lon: -74.01},
	{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Country: "BR", Lat: -23.55, Lon: -46.63},
	{Prefix: netip.MustParsePrefix("172.16.0.0/12"), Country: "ZZ", Continent: "XX", NoCoords: true},
	{Prefix: netip.MustParsePrefix("2001:db8::/32"), Country: "DE", Continent: "EU", Lat: 50.11, Lon: 8.68},
	{Prefix: netip.MustParsePrefix("2001:db8:1::/48"), Country: "JP", Continent: "AS", NoCoords: true},
	{Prefix: netip.MustParsePrefix("2001:db8:2::/48"), NoCoords: true},
}

func openCity(t testing.TB) *MMDB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "city.mmdb")
	geotest.WriteCityDB(t, path, cityRecords)
	return mustOpen(t, path)
}

func mustOpen(t testing.TB, path string) *MMDB {
	t.Helper()
	db, err := OpenMMDB(path)
	if err != nil {
		t.Fatalf("OpenMMDB(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func centroid(t *testing.T, cc string) (float64, float64) {
	t.Helper()
	lat, lon, ok := CountryCentroid(cc)
	if !ok {
		t.Fatalf("no centroid for %s", cc)
	}
	return lat, lon
}

func TestMMDBLocateCity(t *testing.T) {
	db := openCity(t)
	if got, want := db.DatabaseType(), "GeoIP2-City"; got != want {
		t.Errorf("DatabaseType() = %q, want %q", got, want)
	}
	sgLat, sgLon := centroid(t, "SG")
	jpLat, jpLon := centroid(t, "JP")
	oc, _ := lookupContinent("OC")
	tests := []struct {
		name   string
		addr   string
		want   Location
		wantOK bool
	}{
		{
			name:   "city hit with coordinates",
			addr:   "81.2.69.142",
			want:   Location{Lat: 51.5142, Lon: -0.0931, HasCoords: true, Country: "GB", Continent: "EU", Source: "mmdb", Bits: 24},
			wantOK: true,
		},
		{
			name:   "more specific network wins",
			addr:   "192.0.2.200",
			want:   Location{Lat: 51.90, Lon: -8.47, HasCoords: true, Country: "IE", Continent: "EU", Source: "mmdb", Bits: 25},
			wantOK: true,
		},
		{
			name:   "split remainder of the covering network",
			addr:   "192.0.2.1",
			want:   Location{Lat: 53.35, Lon: -6.26, HasCoords: true, Country: "IE", Continent: "EU", Source: "mmdb", Bits: 25},
			wantOK: true,
		},
		{
			name:   "IPv4-mapped IPv6 is looked up as IPv4 and scoped in IPv4 bits",
			addr:   "::ffff:81.2.69.142",
			want:   Location{Lat: 51.5142, Lon: -0.0931, HasCoords: true, Country: "GB", Continent: "EU", Source: "mmdb", Bits: 24},
			wantOK: true,
		},
		{
			name:   "city record without coordinates gets the country centroid",
			addr:   "198.51.100.7",
			want:   Location{Lat: sgLat, Lon: sgLon, HasCoords: true, Country: "SG", Continent: "AS", Source: "mmdb:country-centroid", Bits: 24},
			wantOK: true,
		},
		{
			name:   "continent-only record gets the continent point",
			addr:   "203.0.113.1",
			want:   Location{Lat: oc.lat, Lon: oc.lon, HasCoords: true, Continent: "OC", Source: "mmdb:continent-centroid", Bits: 24},
			wantOK: true,
		},
		{
			name:   "coordinates without country",
			addr:   "100.100.1.1",
			want:   Location{Lat: 40.71, Lon: -74.01, HasCoords: true, Source: "mmdb", Bits: 10},
			wantOK: true,
		},
		{
			name:   "continent derived from country",
			addr:   "10.9.9.9",
			want:   Location{Lat: -23.55, Lon: -46.63, HasCoords: true, Country: "BR", Continent: "SA", Source: "mmdb", Bits: 8},
			wantOK: true,
		},
		{
			name: "unknown codes are dropped and the record says nothing",
			addr: "172.20.0.1",
			want: Location{Bits: 12},
		},
		{
			name:   "IPv6 hit",
			addr:   "2001:db8:ffff::1",
			want:   Location{Lat: 50.11, Lon: 8.68, HasCoords: true, Country: "DE", Continent: "EU", Source: "mmdb", Bits: 33},
			wantOK: true,
		},
		{
			name:   "IPv6 hit without coordinates",
			addr:   "2001:db8:1::1",
			want:   Location{Lat: jpLat, Lon: jpLon, HasCoords: true, Country: "JP", Continent: "AS", Source: "mmdb:country-centroid", Bits: 48},
			wantOK: true,
		},
		{
			name: "IPv6 record with no location data is a miss with its scope",
			addr: "2001:db8:2::1",
			want: Location{Bits: 48},
		},
		{
			// 8 = 0b00001000 and 10 = 0b00001010 share 6 bits, so the
			// empty block around 8.8.8.8 is 8.0.0.0/7.
			name: "IPv4 miss reports the not-found block",
			addr: "8.8.8.8",
			want: Location{Bits: 7},
		},
		{
			name: "IPv6 miss reports the not-found block",
			addr: "2001:db9::1",
			want: Location{Bits: 32},
		},
		{
			name: "invalid address",
			addr: "",
			want: Location{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var addr netip.Addr
			if tc.addr != "" {
				addr = netip.MustParseAddr(tc.addr)
			}
			got, ok := db.Locate(addr)
			if ok != tc.wantOK {
				t.Errorf("Locate(%s) ok = %v, want %v", tc.addr, ok, tc.wantOK)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Locate(%s) mismatch (-want +got):\n%s", tc.addr, diff)
			}
		})
	}
}

func TestMMDBLocateCountry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "country.mmdb")
	geotest.WriteCountryDB(t, path, []geotest.Record{
		{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Country: "IE", Continent: "EU"},
		{Prefix: netip.MustParsePrefix("2001:db8::/32"), Country: "DE", Continent: "EU"},
	})
	db := mustOpen(t, path)
	if got, want := db.DatabaseType(), "GeoIP2-Country"; got != want {
		t.Errorf("DatabaseType() = %q, want %q", got, want)
	}
	ieLat, ieLon := centroid(t, "IE")
	deLat, deLon := centroid(t, "DE")
	tests := []struct {
		addr string
		want Location
	}{
		{"192.0.2.1", Location{Lat: ieLat, Lon: ieLon, HasCoords: true, Country: "IE", Continent: "EU", Source: "mmdb:country-centroid", Bits: 24}},
		{"2001:db8::1", Location{Lat: deLat, Lon: deLon, HasCoords: true, Country: "DE", Continent: "EU", Source: "mmdb:country-centroid", Bits: 32}},
	}
	for _, tc := range tests {
		got, ok := db.Locate(netip.MustParseAddr(tc.addr))
		if !ok {
			t.Errorf("Locate(%s) ok = false, want true", tc.addr)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Locate(%s) mismatch (-want +got):\n%s", tc.addr, diff)
		}
	}
}

// writeRaw writes a database with arbitrary records, for shapes geotest
// does not produce.
func writeRaw(t testing.TB, path string, opts mmdbwriter.Options, recs map[string]mmdbtype.Map) {
	t.Helper()
	opts.IncludeReservedNetworks = true
	tree, err := mmdbwriter.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	for p, rec := range recs {
		_, ipnet, err := net.ParseCIDR(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(ipnet, rec); err != nil {
			t.Fatalf("insert %s: %v", p, err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestMMDBLocateRecordShapes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shapes.mmdb")
	writeRaw(t, path, mmdbwriter.Options{DatabaseType: "DBIP-City-Lite", RecordSize: 24}, map[string]mmdbtype.Map{
		// Anycast: no country, but a registered country.
		"192.0.2.0/24": {
			"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String("US")},
			"traits":             mmdbtype.Map{"is_anycast": mmdbtype.Bool(true)},
		},
		// Coordinates stored as float32, and out-of-range coordinates.
		"198.51.100.0/25": {
			"country":  mmdbtype.Map{"iso_code": mmdbtype.String("FR")},
			"location": mmdbtype.Map{"latitude": mmdbtype.Float32(48.5), "longitude": mmdbtype.Float32(2.25)},
		},
		"198.51.100.128/25": {
			"country":  mmdbtype.Map{"iso_code": mmdbtype.String("FR")},
			"location": mmdbtype.Map{"latitude": mmdbtype.Float64(200), "longitude": mmdbtype.Float64(2)},
		},
		// Only one of the two coordinates.
		"203.0.113.0/24": {
			"country":  mmdbtype.Map{"iso_code": mmdbtype.String("NZ")},
			"location": mmdbtype.Map{"latitude": mmdbtype.Float64(-41)},
		},
		// country is not a map: a corrupt record is a miss, not a panic.
		"10.0.0.0/8": {
			"country": mmdbtype.String("IE"),
		},
		// latitude is a string.
		"11.0.0.0/8": {
			"location": mmdbtype.Map{"latitude": mmdbtype.String("north"), "longitude": mmdbtype.Float64(0)},
		},
	})
	db := mustOpen(t, path)
	usLat, usLon := centroid(t, "US")
	frLat, frLon := centroid(t, "FR")
	nzLat, nzLon := centroid(t, "NZ")
	tests := []struct {
		name   string
		addr   string
		want   Location
		wantOK bool
	}{
		{"registered country stands in for country", "192.0.2.1",
			Location{Lat: usLat, Lon: usLon, HasCoords: true, Country: "US", Continent: "NA", Source: "mmdb:country-centroid", Bits: 24}, true},
		{"float32 coordinates", "198.51.100.1",
			Location{Lat: 48.5, Lon: 2.25, HasCoords: true, Country: "FR", Continent: "EU", Source: "mmdb", Bits: 25}, true},
		{"out-of-range coordinates are ignored", "198.51.100.200",
			Location{Lat: frLat, Lon: frLon, HasCoords: true, Country: "FR", Continent: "EU", Source: "mmdb:country-centroid", Bits: 25}, true},
		{"half a coordinate is no coordinate", "203.0.113.1",
			Location{Lat: nzLat, Lon: nzLon, HasCoords: true, Country: "NZ", Continent: "OC", Source: "mmdb:country-centroid", Bits: 24}, true},
		{"malformed record", "10.1.1.1", Location{Bits: 8}, false},
		{"wrong type for latitude", "11.1.1.1", Location{Bits: 8}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := db.Locate(netip.MustParseAddr(tc.addr))
			if ok != tc.wantOK {
				t.Errorf("Locate(%s) ok = %v, want %v", tc.addr, ok, tc.wantOK)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Locate(%s) mismatch (-want +got):\n%s", tc.addr, diff)
			}
		})
	}
}

func TestMMDBIPv4OnlyDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v4.mmdb")
	writeRaw(t, path, mmdbwriter.Options{DatabaseType: "GeoLite2-Country", IPVersion: 4}, map[string]mmdbtype.Map{
		"192.0.2.0/24": {"country": mmdbtype.Map{"iso_code": mmdbtype.String("IE")}},
	})
	db := mustOpen(t, path)
	tests := []struct {
		addr     string
		wantOK   bool
		wantBits int
	}{
		{"192.0.2.1", true, 24},
		{"::ffff:192.0.2.1", true, 24},
		{"192.0.0.1", false, 23},
		{"2001:db8::1", false, 0}, // an IPv4 database cannot answer for IPv6
	}
	for _, tc := range tests {
		got, ok := db.Locate(netip.MustParseAddr(tc.addr))
		if ok != tc.wantOK || got.Bits != tc.wantBits {
			t.Errorf("Locate(%s) = %v /%d, want %v /%d", tc.addr, ok, got.Bits, tc.wantOK, tc.wantBits)
		}
	}
}

func TestOpenMMDBErrors(t *testing.T) {
	dir := t.TempDir()
	asn := filepath.Join(dir, "asn.mmdb")
	writeRaw(t, asn, mmdbwriter.Options{DatabaseType: "GeoLite2-ASN"}, map[string]mmdbtype.Map{
		"192.0.2.0/24": {"autonomous_system_number": mmdbtype.Uint32(64496)},
	})
	garbage := filepath.Join(dir, "garbage.mmdb")
	if err := os.WriteFile(garbage, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		wantErr error
	}{
		{"ASN database", asn, ErrUnsupportedDatabase},
		{"missing file", filepath.Join(dir, "missing.mmdb"), os.ErrNotExist},
		{"not a database", garbage, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, err := OpenMMDB(tc.path)
			if err == nil {
				_ = db.Close()
				t.Fatalf("OpenMMDB(%s) succeeded, want error", tc.path)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("OpenMMDB(%s) = %v, want errors.Is %v", tc.path, err, tc.wantErr)
			}
		})
	}
}

func TestMMDBNilAndClosed(t *testing.T) {
	var nilDB *MMDB
	if got, ok := nilDB.Locate(netip.MustParseAddr("192.0.2.1")); ok || got != (Location{}) {
		t.Errorf("nil MMDB Locate = %+v, %v; want zero, false", got, ok)
	}
	if got := nilDB.DatabaseType(); got != "" {
		t.Errorf("nil MMDB DatabaseType = %q, want empty", got)
	}
	if err := nilDB.Close(); err != nil {
		t.Errorf("nil MMDB Close = %v", err)
	}

	path := filepath.Join(t.TempDir(), "city.mmdb")
	geotest.WriteCityDB(t, path, cityRecords)
	db, err := OpenMMDB(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Not concurrently, but after Close: a miss, not a crash.
	if got, ok := db.Locate(netip.MustParseAddr("81.2.69.142")); ok {
		t.Errorf("Locate after Close = %+v, true; want a miss", got)
	}
}

func TestMMDBConcurrent(t *testing.T) {
	db := openCity(t)
	addrs := []netip.Addr{
		netip.MustParseAddr("81.2.69.142"),
		netip.MustParseAddr("198.51.100.7"),
		netip.MustParseAddr("2001:db8:1::1"),
		netip.MustParseAddr("8.8.8.8"),
	}
	want := make([]Location, len(addrs))
	for i, a := range addrs {
		want[i], _ = db.Locate(a)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 500 {
				for i, a := range addrs {
					if got, _ := db.Locate(a); got != want[i] {
						t.Errorf("concurrent Locate(%s) = %+v, want %+v", a, got, want[i])
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

func TestLocateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	db := openCity(t)
	nets := NewNetworks(testNetworks())
	chain := Chain{nets, db}
	for _, a := range []string{"81.2.69.142", "198.51.100.7", "2001:db8::1", "8.8.8.8", "10.1.2.3"} {
		addr := netip.MustParseAddr(a)
		db.Locate(addr) // fill the pool and the reader's string cache
		for name, l := range map[string]Locator{"MMDB": db, "Networks": nets, "Chain": chain} {
			if n := testing.AllocsPerRun(100, func() { l.Locate(addr) }); n != 0 {
				t.Errorf("%s.Locate(%s) allocates %v times per call, want 0", name, a, n)
			}
		}
	}
}

// fullCityRecord is shaped like a real GeoIP2-City record, names in eight
// languages and all, so the benchmarks pay for skipping what Locate does not
// read. Records differ only in their location, like neighbouring networks in
// one city.
func fullCityRecord(lat, lon float64) mmdbtype.Map {
	names := func(s string) mmdbtype.Map {
		m := mmdbtype.Map{}
		for _, lang := range []string{"de", "en", "es", "fr", "ja", "pt-BR", "ru", "zh-CN"} {
			m[mmdbtype.String(lang)] = mmdbtype.String(s + " (" + lang + ")")
		}
		return m
	}
	country := mmdbtype.Map{
		"geoname_id":           mmdbtype.Uint32(2635167),
		"is_in_european_union": mmdbtype.Bool(false),
		"iso_code":             mmdbtype.String("GB"),
		"names":                names("United Kingdom"),
	}
	return mmdbtype.Map{
		"city":               mmdbtype.Map{"geoname_id": mmdbtype.Uint32(2643743), "names": names("London")},
		"continent":          mmdbtype.Map{"code": mmdbtype.String("EU"), "geoname_id": mmdbtype.Uint32(6255148), "names": names("Europe")},
		"country":            country,
		"registered_country": country,
		"location": mmdbtype.Map{
			"accuracy_radius": mmdbtype.Uint16(10),
			"latitude":        mmdbtype.Float64(lat),
			"longitude":       mmdbtype.Float64(lon),
			"time_zone":       mmdbtype.String("Europe/London"),
		},
		"postal": mmdbtype.Map{"code": mmdbtype.String("EC2V")},
		"subdivisions": mmdbtype.Slice{mmdbtype.Map{
			"geoname_id": mmdbtype.Uint32(6269131),
			"iso_code":   mmdbtype.String("ENG"),
			"names":      names("England"),
		}},
	}
}

// benchDB writes a database in which, as in MaxMind's own files, the nested
// maps shared between records are stored once and the later records point
// to them. The first record in the file (81.2.68.0/24, lowest address) holds
// them inline, the worst case for skipping.
func benchDB(b *testing.B) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "city.mmdb")
	writeRaw(b, path, mmdbwriter.Options{DatabaseType: "GeoIP2-City"}, map[string]mmdbtype.Map{
		"81.2.68.0/24":    fullCityRecord(51.50, -0.12),
		"81.2.69.0/24":    fullCityRecord(51.5142, -0.0931),
		"2001:db8::/32":   fullCityRecord(51.52, -0.10),
		"198.51.100.0/24": {"country": mmdbtype.Map{"iso_code": mmdbtype.String("SG")}, "continent": mmdbtype.Map{"code": mmdbtype.String("AS")}},
	})
	return path
}

var benchAddrs = []struct{ name, addr string }{
	{"v4-city", "81.2.69.142"},
	{"v6-city", "2001:db8::1"},
	{"v4-city-inline", "81.2.68.1"},
	{"v4-country-only", "198.51.100.7"},
	{"v4-miss", "8.8.8.8"},
}

// BenchmarkMMDBLocate is the database walk and decode, without the cache
// in front of it (BenchmarkMMDBLocateCached).
func BenchmarkMMDBLocate(b *testing.B) {
	db := mustOpen(b, benchDB(b))
	for _, ba := range benchAddrs {
		addr := netip.MustParseAddr(ba.addr)
		b.Run(ba.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				db.lookup(addr)
			}
		})
	}
}

// BenchmarkMMDBDecoders compares the ways of reading the same record, which
// is how doc.go's choice of the cursor decoder was made: "cursor" is what
// Locate does on a cache miss, "reflect" decodes the same fields into a tagged struct with
// maxminddb's reflection decoder, "geoip2" is geoip2.Reader.City.
func BenchmarkMMDBDecoders(b *testing.B) {
	path := benchDB(b)
	addr := netip.MustParseAddr("81.2.69.142")

	b.Run("cursor", func(b *testing.B) {
		db := mustOpen(b, path)
		b.ReportAllocs()
		for b.Loop() {
			db.lookup(addr) // Locate without its cache
		}
	})

	b.Run("reflect", func(b *testing.B) {
		r, err := maxminddb.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = r.Close() })
		type code struct {
			ISOCode string `maxminddb:"iso_code"`
			Code    string `maxminddb:"code"`
		}
		type narrow struct {
			Country           code `maxminddb:"country"`
			RegisteredCountry code `maxminddb:"registered_country"`
			Continent         code `maxminddb:"continent"`
			Location          struct {
				// NaN until decoded: absent without a *float64 allocation.
				Latitude  float64 `maxminddb:"latitude"`
				Longitude float64 `maxminddb:"longitude"`
			} `maxminddb:"location"`
		}
		rec := new(narrow) // reused, as a pool would
		b.ReportAllocs()
		for b.Loop() {
			res := r.Lookup(addr)
			*rec = narrow{}
			rec.Location.Latitude, rec.Location.Longitude = math.NaN(), math.NaN()
			if err := res.Decode(rec); err != nil {
				b.Fatal(err)
			}
			_ = res.Prefix()
		}
	})

	b.Run("geoip2", func(b *testing.B) {
		r, err := geoip2.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = r.Close() })
		b.ReportAllocs()
		for b.Loop() {
			c, err := r.City(addr)
			if err != nil || !c.Location.HasCoordinates() {
				b.Fatalf("City(%s) = %+v, %v", addr, c, err)
			}
		}
	})
}
