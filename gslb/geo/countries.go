package geo

// country is one row of the countries table.
type country struct {
	code      string // ISO 3166-1 alpha-2, upper case
	continent string
	lat, lon  float64
}

// continent is one row of the continents table.
type continent struct {
	code     string
	lat, lon float64
}

// continents holds the seven continent codes MaxMind and GeoNames use, with a
// representative point for clients whose database record names only a
// continent. The points lean towards where people (and so clients) are rather
// than the geographic centre: for AS the geographic centre is in Xinjiang,
// several thousand kilometres from most Asian users; for AN it does not
// matter.
var continents = [...]continent{
	{"AF", 2.00, 17.00},   // central Africa
	{"AN", -82.86, 135.0}, // pole of inaccessibility; nobody steers here
	{"AS", 25.00, 100.00}, // between India, China and South-East Asia
	{"EU", 50.00, 10.00},  // central Germany
	{"NA", 39.00, -95.00}, // Kansas; the US and Canada dominate
	{"OC", -30.00, 145.00},
	{"SA", -15.00, -55.00}, // Mato Grosso
}

// countryIndex maps a two-letter upper-case code to 1 + its index in
// countries, or 0. An array indexed by the letters is a bounds check and a
// load, cheaper than a map on the answer path. It is filled once at package
// initialisation and only read afterwards.
var countryIndex = buildCountryIndex()

func buildCountryIndex() *[26 * 26]uint16 {
	var idx [26 * 26]uint16
	for i, c := range countries {
		k, ok := letterKey(c.code)
		if !ok {
			panic("geo: bad country code in table: " + c.code)
		}
		idx[k] = uint16(i + 1)
	}
	return &idx
}

// letterKey turns a two-letter upper-case code into 0..675.
func letterKey(s string) (int, bool) {
	if len(s) != 2 {
		return 0, false
	}
	a, b := s[0]-'A', s[1]-'A'
	if a >= 26 || b >= 26 { // unsigned: also catches bytes below 'A'
		return 0, false
	}
	return int(a)*26 + int(b), true
}

// lookupCountry returns the table row for cc, which must be upper case.
func lookupCountry(cc string) (*country, bool) {
	k, ok := letterKey(cc)
	if !ok {
		return nil, false
	}
	i := countryIndex[k]
	if i == 0 {
		return nil, false
	}
	return &countries[i-1], true
}

// lookupContinent returns the table row for code, which must be upper case.
func lookupContinent(code string) (*continent, bool) {
	for i := range continents {
		if continents[i].code == code {
			return &continents[i], true
		}
	}
	return nil, false
}

// ValidCountry reports whether cc is a known ISO 3166-1 alpha-2 code (or XK,
// Kosovo). Codes are upper case, as in MaxMind databases; "ie" is not valid,
// so a policy that is validated with this function compares equal to
// Location.Country without case folding.
func ValidCountry(cc string) bool {
	_, ok := lookupCountry(cc)
	return ok
}

// ValidContinent reports whether code is one of AF AN AS EU NA OC SA.
func ValidContinent(code string) bool {
	_, ok := lookupContinent(code)
	return ok
}

// ContinentOf returns the continent code of country cc, or "" if cc is not a
// known upper-case code.
func ContinentOf(cc string) string {
	c, ok := lookupCountry(cc)
	if !ok {
		return ""
	}
	return c.continent
}

// CountryCentroid returns a representative point for country cc: its
// geographic centroid, or for a few large countries a population-weighted
// centre (see the countries table). ok is false for an unknown code.
func CountryCentroid(cc string) (lat, lon float64, ok bool) {
	c, ok := lookupCountry(cc)
	if !ok {
		return 0, 0, false
	}
	return c.lat, c.lon, true
}

// continentCentroid is CountryCentroid for continent codes.
func continentCentroid(code string) (lat, lon float64, ok bool) {
	c, ok := lookupContinent(code)
	if !ok {
		return 0, 0, false
	}
	return c.lat, c.lon, true
}

// canonicalCountry returns the table's own copy of cc, so a Location never
// holds a string that aliases a database buffer or needs an allocation.
func canonicalCountry(cc string) string {
	c, ok := lookupCountry(cc)
	if !ok {
		return ""
	}
	return c.code
}

// canonicalContinent is canonicalCountry for continent codes.
func canonicalContinent(code string) string {
	c, ok := lookupContinent(code)
	if !ok {
		return ""
	}
	return c.code
}
