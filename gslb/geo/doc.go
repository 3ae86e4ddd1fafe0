// Package geo tells geo steering where a DNS client is.
//
// A [Locator] maps a client address (the ECS subnet or the resolver's own
// address) to a [Location]: coordinates, country, continent, where that came
// from, and the ECS scope the answer may be cached for. Three locators:
//
//   - [Networks]: operator-defined CIDRs (etcd keys geo/networks/<name>),
//     longest prefix wins. Built once per snapshot with [NewNetworks].
//   - [MMDB]: a MaxMind GeoIP2/GeoLite2 City or Country database, or DB-IP
//     in the same format, opened with [OpenMMDB].
//   - [Chain]: tries locators in order; operator networks go first.
//
// [DistanceKm] measures great-circle distance for nearest-region steering,
// and [VectorOf] and [Vector.Cos] rank by it with a dot product instead of
// trigonometry per region;
// [CountryCentroid], [ContinentOf], [ValidCountry] and [ValidContinent] are
// the tables policy validation and steering share.
//
// # Invariants
//
//   - No network I/O, no logging, no package state that changes after
//     initialisation. The only I/O is OpenMMDB mapping its file.
//   - Locate on every locator is safe for concurrent use and does not
//     allocate (TestLocateAllocs): it runs for every DNS answer. (MMDB's
//     cache allocates one entry the first time it stores a prefix.)
//   - Country and Continent are "" or a code from this package's tables,
//     upper case (codes the database has that the tables do not know are
//     dropped, not passed through), so they compare equal to policy values
//     checked with ValidCountry and ValidContinent.
//   - HasCoords implies Lat in [-90, 90] and Lon in [-180, 180]. A location
//     that knows a country or continent always has coordinates, taken from
//     the country or continent point when the data has none; Source says
//     which ("mmdb", "mmdb:country-centroid", "mmdb:continent-centroid",
//     "network:<name>").
//   - The bool Locate returns is Location.Known(). A miss still carries Bits.
//   - Bits is a safe ECS scope, in the client's own family (an IPv4 or
//     IPv4-mapped client gets 0..32): every address sharing that many
//     leading bits with the client gets the same Location. For the database
//     it is the length of the network that matched (or of the empty block
//     around a miss); for Networks it is the matching prefix length, longer
//     when a more specific operator network nests close by; a Chain reports
//     the largest Bits of the locators it consulted, so a resolver never
//     caches a database answer for addresses an operator network claims.
//
// # Reading the database
//
// MMDB uses github.com/oschwald/maxminddb-golang/v2 directly, with a
// hand-written cursor decoder (record.UnmarshalMaxMindDBCursor) that reads
// the five fields Locate needs and skips the rest (names in eight
// languages, subdivisions, postal code) without decoding them. Decode
// targets come from a sync.Pool on the MMDB, since Decode takes its target
// as an interface and a stack variable would escape. BenchmarkMMDBDecoders
// on a City-shaped record, shared 2-core Xeon, go1.26 (medians of 5 runs;
// the machine was busy, so read the ratios rather than the absolute times):
//
//	cursor (whole Locate, this package)      570-600 ns/op      0 B/op   0 allocs/op
//	reflect (lookup + narrow tagged struct)  650-690 ns/op      0 B/op   0 allocs/op
//	geoip2.Reader.City                     1500-2000 ns/op   1200 B/op   4 allocs/op
//
// geoip2 decodes the whole City record into a fresh struct, so it is about
// three times slower and allocates 1.2 kB on every answer. The narrow
// reflection struct comes close only with a reused target and NaN sentinels
// for the coordinates (with *float64, the usual way to tell a missing
// coordinate from 0,0, it allocates twice per lookup); the cursor decoder is
// still 10-15% faster and does more (Location assembly included).
// Most of the remaining time is tree traversal and skipping map entries;
// a miss costs ~40 ns.
//
// In front of it, MMDB.Locate keeps a direct-mapped cache of 4096 recent
// results keyed by the client's /24 or /56, filled only with results
// whose database network covers that whole prefix, so it never answers
// differently from the database (cache.go, TestLocateCacheAgrees). A hit
// costs ~40 ns (BenchmarkMMDBLocateCached) instead of 250-700 ns
// (BenchmarkMMDBLocate, the walk alone).
//
// The database is trusted configuration: the cursor decoder walks the
// structure the file declares, within the file's bounds, but does not apply
// the reflection decoder's per-record work budget.
//
// # Replacing the database
//
// Close unmaps the file and must not race with Locate. To load a new
// database on a live server, open it, publish the new *MMDB (an
// atomic.Pointer, or a new Chain in the next snapshot), and drop the old one
// without calling Close: the reader unmaps itself once unreachable, that is
// after the last lookup that was using it has returned.
//
// # Usage
//
//	db, err := geo.OpenMMDB(cfg.GeoIPPath)
//	if err != nil {
//		return fmt.Errorf("geoip: %w", err)
//	}
//	nets := geo.NewNetworks(snapshot.Networks) // per snapshot, immutable
//	loc, ok := geo.Chain{nets, db}.Locate(clientSubnet.Addr())
//	if ok {
//		d := geo.DistanceKm(loc, region.Location)
//		...
//	}
//	scope := loc.Bits // ECS SCOPE PREFIX-LENGTH, hit or miss (RFC 7871 7.2.1)
//
// Tests in other packages build databases with the geotest subpackage.
package geo
