package geo

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2/mmdbdata"
)

// ErrUnsupportedDatabase is returned by OpenMMDB for a MaxMind DB file that
// does not carry locations (an ASN, ISP, anonymous-IP ... database).
var ErrUnsupportedDatabase = errors.New("geo: unsupported database type")

// MMDB locates clients with a MaxMind GeoIP2/GeoLite2 City or Country
// database, or a DB-IP database in the same format. It is safe for
// concurrent use; see Close for the one exception.
type MMDB struct {
	r *maxminddb.Reader
	// records recycles decode targets. Decode takes the target as an
	// interface, so a stack variable would escape and cost an allocation
	// per lookup; per database rather than global, so nothing outlives it.
	records sync.Pool
	// cache holds recent results by client prefix (cache.go).
	cache locCache
}

// OpenMMDB memory-maps the database at path. It fails with
// ErrUnsupportedDatabase unless the database type names a City, Country or
// Enterprise database (which share the City record layout); an ASN database
// given by mistake would otherwise open fine and then never locate anyone.
func OpenMMDB(path string) (*MMDB, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geo: open %s: %w", path, err)
	}
	if t := r.Metadata.DatabaseType; !locationDatabase(t) {
		_ = r.Close() // the error that matters is the type
		return nil, fmt.Errorf("geo: open %s: %w %q", path, ErrUnsupportedDatabase, t)
	}
	m := &MMDB{r: r}
	m.records.New = func() any { return new(record) }
	return m, nil
}

// locationDatabase reports whether a database type has City-shaped records:
// GeoIP2-City, GeoLite2-Country, GeoIP2-Enterprise, DBIP-City-Lite,
// "DBIP-Location (compat=City)", "DBIP-ISP (compat=Enterprise)" and the
// regional City editions all do.
func locationDatabase(t string) bool {
	return strings.Contains(t, "City") || strings.Contains(t, "Country") || strings.Contains(t, "Enterprise")
}

// Close releases the memory map. It must not run while a Locate may still be
// running on m: the underlying reader unmaps the file, and a lookup in
// flight would fault. To swap in a new database on a live server, publish
// the new *MMDB (for example through an atomic.Pointer) and simply drop the
// old one: the reader unmaps itself once it is unreachable, which is only
// after the last lookup using it has returned.
func (m *MMDB) Close() error {
	if m == nil || m.r == nil {
		return nil
	}
	return m.r.Close()
}

// DatabaseType returns the database_type from the file's metadata, such as
// "GeoLite2-City".
func (m *MMDB) DatabaseType() string {
	if m == nil || m.r == nil {
		return ""
	}
	return m.r.Metadata.DatabaseType
}

// Locate looks addr up in the database. IPv4-mapped IPv6 addresses are
// looked up as IPv4.
//
// The location's coordinates come from the record; a record with a country
// but no coordinates (Country databases, and City records that only know the
// country) gets the country's point and Source SourceMMDBCountryCentroid; a
// record with only a continent gets a continent point and
// SourceMMDBContinentCentroid. When the record has no country, its
// registered_country is used: MaxMind leaves country empty for some anycast
// and satellite networks but still knows who holds them.
//
// Bits is the length of the database network holding addr, hit or miss,
// counted in addr's family: an IPv4 address in an IPv6 database reports
// /24, not /120. A corrupt record is reported as a miss; Locate has nobody to
// return an error to, and a lookup error would not change the answer.
func (m *MMDB) Locate(addr netip.Addr) (Location, bool) {
	if m == nil || m.r == nil || !addr.IsValid() {
		return Location{}, false
	}
	addr = clientAddr(addr)
	key, cacheable := cacheKey(addr)
	if cacheable {
		if loc, ok, hit := m.cache.get(key); hit {
			return loc, ok
		}
	}
	loc, ok := m.lookup(addr)
	if cacheable && loc.Bits <= key.BitLen()-cacheSpan(key) {
		m.cache.put(key, loc, ok)
	}
	return loc, ok
}

// lookup is Locate without the cache.
func (m *MMDB) lookup(addr netip.Addr) (Location, bool) {
	res := m.r.Lookup(addr)
	bits := resultBits(res, addr)
	if !res.Found() {
		return Location{Bits: bits}, false
	}
	rec := m.records.Get().(*record)
	*rec = record{}
	err := res.Decode(rec)
	loc := rec.location()
	m.records.Put(rec)
	if err != nil {
		return Location{Bits: bits}, false
	}
	loc.Bits = bits
	return loc, loc.Known()
}

// resultBits returns the prefix length of a lookup result in addr's family.
// Result.Prefix already turns the depth of an IPv4 lookup in an IPv6 tree
// into an IPv4 length; when the IPv4 part of the tree ends above the IPv4
// subtree (no IPv4 data at all), it returns an IPv6 prefix, and for an IPv4
// client that means the whole IPv4 space, /0.
func resultBits(res maxminddb.Result, addr netip.Addr) int {
	p := res.Prefix()
	if !p.IsValid() || p.Addr().Is4() != addr.Is4() {
		return 0
	}
	return p.Bits()
}

// record is the part of a City/Country record that Locate needs. It decodes
// itself from the database cursor (mmdbdata.CursorUnmarshaler) instead of
// through reflection or geoip2.City: see doc.go for the measurements.
//
// Codes are kept as canonical table strings (or "" for codes the tables do
// not know), never as strings read from the database, so a Location never
// aliases the reader's string cache.
type record struct {
	country, registeredCountry, continent string
	lat, lon                              float64
	hasLat, hasLon                        bool
}

// UnmarshalMaxMindDBCursor implements mmdbdata.CursorUnmarshaler. It reads
// only country.iso_code, registered_country.iso_code, continent.code and
// location.{latitude,longitude}, and skips every other value without
// decoding it (names in a dozen languages, subdivisions, postal code...).
func (r *record) UnmarshalMaxMindDBCursor(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	m, err := c.MapReader()
	if err != nil {
		return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[record](err)
	}
	next := m.First()
	for range m.Len() {
		key, val, err := next.ReadMapKey()
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
		switch string(key) {
		case "country":
			r.country, next, err = readCode(val, "iso_code", canonicalCountry)
		case "registered_country":
			r.registeredCountry, next, err = readCode(val, "iso_code", canonicalCountry)
		case "continent":
			r.continent, next, err = readCode(val, "code", canonicalContinent)
		case "location":
			next, err = r.readLocation(val)
		default:
			next, err = val.Skip()
		}
		if err != nil {
			return mmdbdata.Cursor{}, fmt.Errorf("decoding %s: %w", key, err)
		}
	}
	return m.End(next)
}

// readCode reads field from the map at c, passes it through canon and
// returns the result with the map's successor. Other fields are skipped.
func readCode(c mmdbdata.Cursor, field string, canon func(string) string) (string, mmdbdata.Cursor, error) {
	m, err := c.MapReader()
	if err != nil {
		return "", mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[map[string]any](err)
	}
	var code string
	next := m.First()
	for range m.Len() {
		key, val, err := next.ReadMapKey()
		if err != nil {
			return "", mmdbdata.Cursor{}, err
		}
		if string(key) == field {
			code, next, err = val.ReadString()
			code = canon(code)
		} else {
			next, err = val.Skip()
		}
		if err != nil {
			return "", mmdbdata.Cursor{}, err
		}
	}
	next, err = m.End(next)
	return code, next, err
}

// readLocation reads latitude and longitude from the location map at c.
func (r *record) readLocation(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	m, err := c.MapReader()
	if err != nil {
		return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[map[string]any](err)
	}
	next := m.First()
	for range m.Len() {
		key, val, err := next.ReadMapKey()
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
		switch string(key) {
		case "latitude":
			r.lat, next, err = val.ReadFloat()
			r.hasLat = err == nil
		case "longitude":
			r.lon, next, err = val.ReadFloat()
			r.hasLon = err == nil
		default:
			next, err = val.Skip()
		}
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
	}
	return m.End(next)
}

// location turns a decoded record into a Location (without Bits).
func (r *record) location() Location {
	l := Location{Country: r.country, Continent: r.continent}
	if l.Country == "" {
		l.Country = r.registeredCountry
	}
	if l.Continent == "" {
		l.Continent = ContinentOf(l.Country)
	}
	switch {
	case r.hasLat && r.hasLon && validCoords(r.lat, r.lon):
		l.Lat, l.Lon, l.HasCoords = r.lat, r.lon, true
		l.Source = SourceMMDB
	case l.Country != "":
		l.Lat, l.Lon, l.HasCoords = CountryCentroid(l.Country)
		l.Source = SourceMMDBCountryCentroid
	case l.Continent != "":
		l.Lat, l.Lon, l.HasCoords = continentCentroid(l.Continent)
		l.Source = SourceMMDBContinentCentroid
	}
	return l
}
