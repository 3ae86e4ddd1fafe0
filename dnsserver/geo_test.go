package dnsserver

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/gslb/geo"
	"github.com/meridian-gslb/meridian/gslb/geo/geotest"
)

// TestGeoDatabase checks clients outside the operator networks, located
// by an mmdb: the nearest region answers and the scope is the database
// network's prefix.
func TestGeoDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	geotest.WriteCityDB(t, path, []geotest.Record{
		{Prefix: netip.MustParsePrefix("81.2.69.0/24"), Country: "GB", Continent: "EU", Lat: 51.5, Lon: -0.1},
		{Prefix: netip.MustParsePrefix("100.64.0.0/16"), Country: "BR", Continent: "SA", Lat: -23.5, Lon: -46.6},
		{Prefix: netip.MustParsePrefix("2001:db8:aaaa::/48"), Country: "SG", Continent: "AS", NoCoords: true},
	})
	db, err := geo.OpenMMDB(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ts := newTestServer(t, func(o *Options) { o.Geo = db })
	addr := ts.serve(t)
	for _, proto := range protos {
		for _, tc := range []Case{
			{Name: "GB", Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "81.2.69.0/24", Answer: []string{wwwEU}, Scope: 24},
			{Name: "BR /24 inside a /16", Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "100.64.3.0/24", Answer: []string{wwwNA}, Scope: 16},
			{Name: "SG by country", Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "2001:db8:aaaa:bb00::/56", Answer: []string{wwwAS}, Scope: 48},
			// The operator network still wins over the database.
			{Name: "operator network", Qname: "www.gslb.example.", Qtype: dns.TypeA, ECS: "203.0.113.0/24", Answer: []string{wwwAS}, Scope: 24},
		} {
			t.Run(proto+"/"+tc.name(), func(t *testing.T) {
				req := tc.Msg()
				tc.Check(t, req, exchange(t, proto, addr, req))
			})
		}
	}
}
