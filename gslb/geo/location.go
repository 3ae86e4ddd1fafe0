package geo

import "net/netip"

// Values of Location.Source other than "network:<name>".
const (
	// SourceMMDB: coordinates, country and continent all come from the
	// database record.
	SourceMMDB = "mmdb"
	// SourceMMDBCountryCentroid: the record had a country but no coordinates;
	// the coordinates are the country's point from CountryCentroid.
	SourceMMDBCountryCentroid = "mmdb:country-centroid"
	// SourceMMDBContinentCentroid: the record had only a continent; the
	// coordinates are a representative point of that continent.
	SourceMMDBContinentCentroid = "mmdb:continent-centroid"

	// sourceNetworkPrefix starts the Source of an operator network match.
	sourceNetworkPrefix = "network:"
)

// Location is where a client (or a region) is.
type Location struct {
	Lat, Lon  float64
	HasCoords bool   // Lat/Lon are meaningful
	Country   string // ISO 3166-1 alpha-2, upper case, "" if unknown
	Continent string // two-letter continent code: AF AN AS EU NA OC SA, "" if unknown
	// Source says where the location came from: "network:<name>" for an
	// operator network, SourceMMDB, SourceMMDBCountryCentroid or
	// SourceMMDBContinentCentroid for the database, "" if unknown.
	Source string
	// Bits is the ECS scope of this answer: the length of the prefix around
	// the client within which every address gets the same Location. For a
	// match that is at least the length of the matching network; for no
	// match it is the length of the enclosing not-found block if the data
	// says so, else 0. It is always in the client's own family (0..32 for
	// IPv4, also for IPv4-mapped IPv6 addresses, 0..128 for IPv6).
	Bits int
}

// Known reports whether l says anything about where the client is.
func (l Location) Known() bool {
	return l.HasCoords || l.Country != "" || l.Continent != ""
}

// Locator finds a client's location. Implementations must be safe for
// concurrent use and allocation-light: Locate runs for every DNS answer.
//
// The bool is l.Known(): false means "no idea", and the Location then carries
// only Bits.
type Locator interface {
	Locate(addr netip.Addr) (Location, bool)
}

// Chain tries locators in order and the first hit wins, so operator networks
// go before the database. nil entries are skipped.
//
// The returned Bits is the largest Bits of every locator consulted, the
// winner included. A locator that missed reports the block around the client
// in which it has no entry; answering with a wider scope would let resolvers
// cache the database's answer for clients that an operator network (tried
// first) sends elsewhere.
type Chain []Locator

// Locate implements Locator.
func (c Chain) Locate(addr netip.Addr) (Location, bool) {
	bits := 0
	for _, l := range c {
		if l == nil {
			continue
		}
		loc, ok := l.Locate(addr)
		bits = max(bits, loc.Bits)
		if ok {
			loc.Bits = bits
			return loc, true
		}
	}
	return Location{Bits: bits}, false
}

// clientAddr puts addr in the form every locator looks up: IPv4-mapped IPv6
// addresses become IPv4 (the ECS scope must be in the family the client
// actually uses), and the zone is dropped (netip.Prefix.Contains never
// matches an address with a zone).
func clientAddr(addr netip.Addr) netip.Addr {
	return addr.Unmap().WithZone("")
}
