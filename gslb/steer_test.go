package gslb

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/meridian-gslb/meridian/gslb/geo"
)

// fakeDB is an in-memory geo.Locator standing in for an mmdb: prefix ->
// location, first match wins.
type fakeDB []struct {
	p   netip.Prefix
	loc geo.Location
}

func (f fakeDB) Locate(a netip.Addr) (geo.Location, bool) {
	for _, e := range f {
		if e.p.Contains(a) {
			l := e.loc
			l.Source, l.Bits = "mmdb", e.p.Bits()
			return l, true
		}
	}
	// A miss says how far it holds, as an mmdb does; /24 is a safe guess
	// for a table this sparse.
	return geo.Location{Bits: 24}, false
}

var db = fakeDB{
	{netip.MustParsePrefix("81.0.0.0/8"), geo.Location{Lat: 48.85, Lon: 2.35, HasCoords: true, Country: "FR", Continent: "EU"}},    // Paris
	{netip.MustParsePrefix("24.0.0.0/8"), geo.Location{Lat: 34.05, Lon: -118.24, HasCoords: true, Country: "US", Continent: "NA"}}, // Los Angeles
	{netip.MustParsePrefix("1.0.0.0/16"), geo.Location{Lat: 35.68, Lon: 139.69, HasCoords: true, Country: "JP", Continent: "AS"}},  // Tokyo
	{netip.MustParsePrefix("177.0.0.0/8"), geo.Location{Lat: -23.55, Lon: -46.63, HasCoords: true, Country: "BR", Continent: "SA"}},
	{netip.MustParsePrefix("41.0.0.0/8"), geo.Location{Country: "", Continent: "AS"}}, // continent only
	{netip.MustParsePrefix("2a00::/16"), geo.Location{Lat: 52.52, Lon: 13.40, HasCoords: true, Country: "DE", Continent: "EU"}},
}

func TestSteer(t *testing.T) {
	const www = "www.gslb.example."
	up := func(prober, target string) (string, string) {
		return "status/probes/" + prober + "/" + target, `{"up":true,"updated":"2026-01-01T00:00:00Z"}`
	}
	down := func(prober, target string) (string, string) {
		return "status/probes/" + prober + "/" + target, `{"up":false,"updated":"2026-01-01T00:00:00Z"}`
	}
	kv := func(pairs ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(pairs); i += 2 {
			m[pairs[i]] = pairs[i+1]
		}
		return m
	}
	// allUp reports every proxy up from one prober, so the keyspace is
	// monitored and the cases below can take parts down.
	allUp := func(more ...string) map[string]string {
		var pairs []string
		for _, a := range []string{"127.0.0.11", "2001:db8::11", "127.0.0.12", "127.0.0.13", "127.0.0.23"} {
			k, v := up("p1", a)
			pairs = append(pairs, k, v)
		}
		return kv(append(pairs, more...)...)
	}
	pair := func(k, v string) []string { return []string{k, v} }

	tests := []struct {
		name     string
		extra    map[string]string
		q        Query
		region   string
		addrs    []string
		scope    int
		fallback bool
	}{
		{name: "europe network to eu-west", q: Query{Client: addr("192.0.2.1"), SourceBits: 24},
			region: "eu-west", addrs: []string{"127.0.0.11"}, scope: 24},
		{name: "north america network to us-east", q: Query{Client: addr("198.51.100.7"), SourceBits: 24},
			region: "us-east", addrs: []string{"127.0.0.12"}, scope: 24},
		{name: "asia network to ap-southeast, both addresses", q: Query{Client: addr("203.0.113.9"), SourceBits: 24},
			region: "ap-southeast", addrs: []string{"127.0.0.13", "127.0.0.23"}, scope: 24},
		{name: "seed rotates addresses", q: Query{Client: addr("203.0.113.9"), SourceBits: 24, Seed: 1},
			region: "ap-southeast", addrs: []string{"127.0.0.23", "127.0.0.13"}, scope: 24},
		{name: "AAAA from eu-west", q: Query{Client: addr("192.0.2.1"), SourceBits: 24, IPv6: true},
			region: "eu-west", addrs: []string{"2001:db8::11"}, scope: 24},
		{name: "AAAA skips a region without IPv6", q: Query{Client: addr("198.51.100.1"), SourceBits: 24, IPv6: true},
			region: "eu-west", addrs: []string{"2001:db8::11"}, scope: 24},
		{name: "AAAA with no IPv6 anywhere is NODATA",
			extra: kv("services/www.gslb.example.", `{"policy":"geo","regions":["us-east","ap-southeast"]}`),
			q:     Query{Client: addr("198.51.100.1"), SourceBits: 24, IPv6: true}, region: "", addrs: nil, scope: 24, fallback: true},
		{name: "mmdb Paris nearest is Dublin", q: Query{Client: addr("81.2.3.4"), SourceBits: 24},
			region: "eu-west", addrs: []string{"127.0.0.11"}, scope: 8},
		{name: "mmdb Los Angeles nearest is Virginia", q: Query{Client: addr("24.1.1.1"), SourceBits: -1},
			region: "us-east", addrs: []string{"127.0.0.12"}, scope: 0},
		{name: "mmdb Tokyo nearest is Singapore", q: Query{Client: addr("1.0.3.4"), SourceBits: 24},
			region: "ap-southeast", addrs: []string{"127.0.0.13", "127.0.0.23"}, scope: 16},
		{name: "Sao Paulo is nearer Virginia than Dublin", q: Query{Client: addr("177.1.1.1"), SourceBits: 24},
			region: "us-east", addrs: []string{"127.0.0.12"}, scope: 8},
		{name: "IPv6 client in Berlin", q: Query{Client: addr("2a00:1::1"), SourceBits: 56},
			region: "eu-west", addrs: []string{"127.0.0.11"}, scope: 16},
		{name: "continent only: first region on the continent", q: Query{Client: addr("41.1.1.1"), SourceBits: 24},
			region: "ap-southeast", addrs: []string{"127.0.0.13", "127.0.0.23"}, scope: 8},
		{name: "unknown location: first region in order, scope = source", q: Query{Client: addr("10.1.2.3"), SourceBits: 24},
			region: "eu-west", addrs: []string{"127.0.0.11"}, scope: 24},
		{name: "no client address", q: Query{SourceBits: -1},
			region: "eu-west", addrs: []string{"127.0.0.11"}, scope: 0},
		{name: "country override beats distance",
			extra: kv("services/www.gslb.example.", `{"policy":"geo","regions":["eu-west","us-east","ap-southeast"],"overrides":[{"countries":["fr"],"regions":["us-east"]}]}`),
			q:     Query{Client: addr("81.2.3.4"), SourceBits: 24}, region: "us-east", addrs: []string{"127.0.0.12"}, scope: 8},
		{name: "continent override",
			extra: kv("services/www.gslb.example.", `{"policy":"geo","regions":["eu-west","us-east","ap-southeast"],"overrides":[{"continents":["SA"],"regions":["eu-west"]}]}`),
			q:     Query{Client: addr("177.1.1.1"), SourceBits: 24}, region: "eu-west", addrs: []string{"127.0.0.11"}, scope: 8},
		{name: "network override",
			extra: kv("services/www.gslb.example.", `{"policy":"geo","regions":["eu-west","us-east","ap-southeast"],"overrides":[{"networks":["doc-as"],"regions":["us-east"]}]}`),
			q:     Query{Client: addr("203.0.113.1"), SourceBits: 24}, region: "us-east", addrs: []string{"127.0.0.12"}, scope: 24},
		{name: "override whose region is down falls through to distance",
			extra: allUp(append(pair(down("p1", "127.0.0.12")), "services/www.gslb.example.", `{"policy":"geo","regions":["eu-west","us-east","ap-southeast"],"overrides":[{"countries":["FR"],"regions":["us-east"]}]}`)...),
			q:     Query{Client: addr("81.2.3.4"), SourceBits: 24}, region: "eu-west", addrs: []string{"127.0.0.11"}, scope: 8},
		{name: "nearest down: next nearest",
			extra: allUp(pair(down("p1", "127.0.0.11"))...),
			q:     Query{Client: addr("192.0.2.1"), SourceBits: 24}, region: "us-east", addrs: []string{"127.0.0.12"}, scope: 24},
		{name: "one address of two down: the other alone",
			extra: allUp(pair(down("p1", "127.0.0.13"))...),
			q:     Query{Client: addr("203.0.113.1"), SourceBits: 24}, region: "ap-southeast", addrs: []string{"127.0.0.23"}, scope: 24},
		{name: "one prober of three sees it down: stays",
			extra: allUp(append(pair(down("p2", "127.0.0.11")), pair(up("p3", "127.0.0.11"))...)...),
			q:     Query{Client: addr("192.0.2.1"), SourceBits: 24}, region: "eu-west", addrs: []string{"127.0.0.11"}, scope: 24},
		{name: "two probers of three see it down: moves",
			extra: allUp(append(pair(down("p2", "127.0.0.11")), pair(down("p3", "127.0.0.11"))...)...),
			q:     Query{Client: addr("192.0.2.1"), SourceBits: 24}, region: "us-east", addrs: []string{"127.0.0.12"}, scope: 24},
		{name: "tie of two probers keeps it up",
			extra: allUp(pair(down("p2", "127.0.0.11"))...),
			q:     Query{Client: addr("192.0.2.1"), SourceBits: 24}, region: "eu-west", addrs: []string{"127.0.0.11"}, scope: 24},
		{name: "draining heartbeat takes it out despite probes",
			extra: allUp("status/proxies/eu-west/px1", `{"address":"127.0.0.11","healthy_backends":2,"total_backends":2,"draining":true,"updated":"2026-01-01T00:00:00Z"}`),
			q:     Query{Client: addr("192.0.2.1"), SourceBits: 24}, region: "us-east", addrs: []string{"127.0.0.12"}, scope: 24},
		{name: "heartbeat with no healthy backend makes the region ineligible",
			extra: allUp("status/proxies/eu-west/px1", `{"address":"127.0.0.11","healthy_backends":0,"total_backends":2,"updated":"2026-01-01T00:00:00Z"}`),
			q:     Query{Client: addr("192.0.2.1"), SourceBits: 24}, region: "us-east", addrs: []string{"127.0.0.12"}, scope: 24},
		{name: "capacity threshold",
			extra: allUp("status/proxies/eu-west/px1", `{"address":"127.0.0.11","healthy_backends":1,"total_backends":4,"updated":"2026-01-01T00:00:00Z"}`,
				"services/www.gslb.example.", `{"policy":"geo","regions":["eu-west","us-east","ap-southeast"],"min_healthy_fraction":0.5}`),
			q: Query{Client: addr("192.0.2.1"), SourceBits: 24}, region: "us-east", addrs: []string{"127.0.0.12"}, scope: 24},
		{name: "heartbeat alone holds an address up",
			extra: kv("status/proxies/us-east/px1", `{"address":"127.0.0.12","healthy_backends":2,"total_backends":2,"updated":"2026-01-01T00:00:00Z"}`),
			q:     Query{Client: addr("192.0.2.1"), SourceBits: 24}, region: "us-east", addrs: []string{"127.0.0.12"}, scope: 24},
		{name: "disabled region is skipped",
			extra: kv("regions/eu-west", `{"location":{"lat":53.35,"lon":-6.26},"proxies":["127.0.0.11"],"disabled":true}`),
			q:     Query{Client: addr("192.0.2.1"), SourceBits: 24}, region: "us-east", addrs: []string{"127.0.0.12"}, scope: 24},
		{name: "nothing eligible, fallback all: nearest as if healthy",
			extra: allUp(append(append(pair(down("p1", "127.0.0.11")), pair(down("p1", "127.0.0.12"))...), append(pair(down("p1", "127.0.0.13")), pair(down("p1", "127.0.0.23"))...)...)...),
			q:     Query{Client: addr("198.51.100.1"), SourceBits: 24}, region: "us-east", addrs: []string{"127.0.0.12"}, scope: 24, fallback: true},
		{name: "nothing eligible, fallback none: NODATA",
			extra: allUp(append(append(pair(down("p1", "127.0.0.11")), pair(down("p1", "127.0.0.12"))...), append(append(pair(down("p1", "127.0.0.13")), pair(down("p1", "127.0.0.23"))...),
				"services/www.gslb.example.", `{"policy":"geo","regions":["eu-west","us-east","ap-southeast"],"fallback":"none"}`)...)...),
			q: Query{Client: addr("198.51.100.1"), SourceBits: 24}, region: "", addrs: nil, scope: 24, fallback: true},
		{name: "failover: first in order, scope 0",
			extra: kv("services/www.gslb.example.", `{"policy":"failover","regions":["us-east","eu-west"]}`),
			q:     Query{Client: addr("192.0.2.1"), SourceBits: 24}, region: "us-east", addrs: []string{"127.0.0.12"}, scope: 0},
		{name: "failover: first down, second",
			extra: allUp(append(pair(down("p1", "127.0.0.12")), "services/www.gslb.example.", `{"policy":"failover","regions":["us-east","eu-west"]}`)...),
			q:     Query{Client: addr("203.0.113.1"), SourceBits: 24}, region: "eu-west", addrs: []string{"127.0.0.11"}, scope: 0},
		{name: "failover: all down, fallback all gives the first",
			extra: allUp(append(append(pair(down("p1", "127.0.0.12")), pair(down("p1", "127.0.0.11"))...), "services/www.gslb.example.", `{"policy":"failover","regions":["us-east","eu-west"]}`)...),
			q:     Query{Client: addr("203.0.113.1"), SourceBits: 24}, region: "us-east", addrs: []string{"127.0.0.12"}, scope: 0, fallback: true},
		{name: "monitored keyspace: address without evidence is down",
			extra: kv(up("p1", "127.0.0.12")),
			q:     Query{Client: addr("192.0.2.1"), SourceBits: 24}, region: "us-east", addrs: []string{"127.0.0.12"}, scope: 24},
		{name: "answers limit",
			extra: kv("services/www.gslb.example.", `{"policy":"geo","regions":["ap-southeast"],"answers":1}`),
			q:     Query{Client: addr("203.0.113.9"), SourceBits: 24}, region: "ap-southeast", addrs: []string{"127.0.0.13"}, scope: 24},
		{name: "ties go to the earlier region",
			extra: kv("regions/eu-twin", `{"location":{"lat":53.35,"lon":-6.26},"proxies":["127.0.0.31"]}`,
				"services/www.gslb.example.", `{"policy":"geo","regions":["eu-twin","eu-west"]}`),
			q: Query{Client: addr("192.0.2.1"), SourceBits: 24}, region: "eu-twin", addrs: []string{"127.0.0.31"}, scope: 24},
		{name: "dangling region reference is skipped",
			extra: kv("services/www.gslb.example.", `{"policy":"geo","regions":["gone","us-east"]}`),
			q:     Query{Client: addr("192.0.2.1"), SourceBits: 24}, region: "us-east", addrs: []string{"127.0.0.12"}, scope: 24},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := build(t, demo, tc.extra)
			q := tc.q
			q.Name, q.Geo, q.Explain = www, db, true
			d, err := Steer(s, q)
			if err != nil {
				t.Fatalf("Steer: %v", err)
			}
			var got []string
			for _, a := range d.Addrs {
				got = append(got, a.String())
			}
			if d.Region != tc.region || d.Scope != tc.scope || d.Fallback != tc.fallback {
				t.Errorf("Steer(%s) = region %q scope %d fallback %v, want %q %d %v\nreasons:\n  %s",
					q.Client, d.Region, d.Scope, d.Fallback, tc.region, tc.scope, tc.fallback, strings.Join(d.Reasons, "\n  "))
			}
			if diff := cmp.Diff(tc.addrs, got); diff != "" {
				t.Errorf("Steer(%s) addrs (-want +got):\n%s", q.Client, diff)
			}
			if len(d.Reasons) == 0 {
				t.Errorf("Steer with Explain gave no reasons")
			}
		})
	}
}

func TestSteerNotAService(t *testing.T) {
	s := build(t, demo, nil)
	if _, err := Steer(s, Query{Name: "nope.gslb.example."}); err != ErrNoService {
		t.Fatalf("Steer(nope) err = %v, want ErrNoService", err)
	}
}

// TestScopeRefinement: an mmdb answer for a /8 must not be cached by a
// resolver for clients in an operator /24 inside it that steers elsewhere.
func TestScopeRefinement(t *testing.T) {
	s := build(t, demo, map[string]string{"geo/networks/paris-office": `{"cidrs":["81.9.9.0/24"],"country":"SG"}`})
	d, err := Steer(s, Query{Name: "www.gslb.example.", Client: addr("81.1.2.3"), SourceBits: 24, Geo: db})
	if err != nil {
		t.Fatal(err)
	}
	// 81.0.0.0/13 is the widest block around the client that holds no
	// operator network: wider would let a resolver hand this answer to
	// the office in 81.9.9.0/24.
	if d.Region != "eu-west" || d.Scope != 13 {
		t.Errorf("Steer(81.1.2.3) = %s /%d, want eu-west /13", d.Region, d.Scope)
	}
	d, _ = Steer(s, Query{Name: "www.gslb.example.", Client: addr("81.9.9.3"), SourceBits: 24, Geo: db})
	if d.Region != "ap-southeast" || d.Scope != 24 {
		t.Errorf("Steer(81.9.9.3) = %s /%d, want ap-southeast /24", d.Region, d.Scope)
	}
}

func BenchmarkSteer(b *testing.B) {
	s := build(b, demo, nil)
	buf := make([]netip.Addr, 0, MaxAnswers)
	q := Query{Name: "www.gslb.example.", Client: addr("81.2.3.4"), SourceBits: 24, Geo: db, Buf: buf}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Steer(s, q); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSteerEqualDistances: two regions equally far from the client (mirror
// images across its meridian) are a tie, and a tie goes to the earlier
// region in the list, with Explain on or off. The two distances come out
// equal from DistanceKm but the dot products of the unit vectors differ in
// the last place, here in favour of the later region: ranking by dot
// product alone would turn the tie round.
func TestSteerEqualDistances(t *testing.T) {
	client := geo.Location{Lat: -60, Lon: -170, HasCoords: true}
	west := geo.Location{Lat: -50, Lon: -175, HasCoords: true}
	east := geo.Location{Lat: -50, Lon: -165, HasCoords: true}
	cv := geo.VectorOf(client)
	if kw, ke := geo.DistanceKm(client, west), geo.DistanceKm(client, east); kw != ke {
		t.Fatalf("fixture: DistanceKm to west %v and to east %v, want equal", kw, ke)
	}
	if cw, ce := cv.Cos(geo.VectorOf(west)), cv.Cos(geo.VectorOf(east)); !(ce > cw) {
		t.Logf("fixture: cosines to west %v and to east %v no longer differ in favour of east; the test still checks the tie", cw, ce)
	}
	keys := map[string]string{
		"geo/networks/south-pacific": `{"cidrs":["10.9.0.0/16"],"location":{"lat":-60,"lon":-170}}`,
		"regions/sp-west":            `{"location":{"lat":-50,"lon":-175},"proxies":["127.0.0.41"]}`,
		"regions/sp-east":            `{"location":{"lat":-50,"lon":-165},"proxies":["127.0.0.42"]}`,
	}
	for _, order := range [][]string{{"sp-west", "sp-east"}, {"sp-east", "sp-west"}} {
		keys["services/www.gslb.example."] = `{"policy":"geo","regions":["` + order[0] + `","` + order[1] + `"]}`
		s := build(t, demo, keys)
		for _, explain := range []bool{false, true} {
			d, err := Steer(s, Query{Name: "www.gslb.example.", Client: addr("10.9.1.1"), SourceBits: 24, Explain: explain})
			if err != nil {
				t.Fatal(err)
			}
			if d.Region != order[0] {
				t.Errorf("regions %v, Explain %v: Steer = %s, want %s (the earlier of two equally far)\nreasons:\n  %s",
					order, explain, d.Region, order[0], strings.Join(d.Reasons, "\n  "))
			}
		}
	}
}

// fixedLocator places every client at one location.
type fixedLocator geo.Location

func (f fixedLocator) Locate(netip.Addr) (geo.Location, bool) {
	l := geo.Location(f)
	return l, l.Known()
}

// TestSteerNearestIsDistanceKmNearest: for random regions and clients,
// geo steering picks the region DistanceKm says is nearest, the earlier in
// the list on a tie: exactly, ties and near-ties included. The generator
// favours the cases where the dot product and the haversine can disagree:
// mirror images across the client's meridian, regions at the same place,
// regions within metres of the client or of its antipode.
func TestSteerNearestIsDistanceKmNearest(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	deg := func(lo, hi float64) float64 { return lo + r.Float64()*(hi-lo) }
	wrap := func(lon float64) float64 {
		switch {
		case lon > 180:
			return lon - 360
		case lon < -180:
			return lon + 360
		}
		return lon
	}
	clamp := func(lat float64) float64 { return max(min(lat, 90), -90) }
	near := func(l geo.Location) geo.Location {
		d := math.Pow(10, -7+6*r.Float64()) // 1e-7 to 0.1 degrees
		return geo.Location{Lat: clamp(l.Lat + d*(r.Float64()-0.5)), Lon: wrap(l.Lon + d*(r.Float64()-0.5)), HasCoords: true}
	}
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	base := map[string]string{"zones/gslb.example.": demo["zones/gslb.example."]}
	ties := 0
	for i := range 3000 {
		client := geo.Location{Lat: deg(-90, 90), Lon: deg(-180, 180), HasCoords: true}
		if r.IntN(4) == 0 {
			// Coordinates as operators write them, two decimals.
			client.Lat, client.Lon = math.Round(client.Lat*100)/100, math.Round(client.Lon*100)/100
		}
		antipode := geo.Location{Lat: -client.Lat, Lon: wrap(client.Lon + 180), HasCoords: true}
		var locs []geo.Location
		for range 2 + r.IntN(5) {
			var l geo.Location
			switch k := r.IntN(6); {
			case k == 0 || len(locs) == 0:
				l = geo.Location{Lat: deg(-90, 90), Lon: deg(-180, 180), HasCoords: true}
			case k == 1:
				o := locs[r.IntN(len(locs))]
				l = geo.Location{Lat: o.Lat, Lon: wrap(2*client.Lon - o.Lon), HasCoords: true}
			case k == 2:
				l = locs[r.IntN(len(locs))]
			case k == 3:
				l = near(client)
			case k == 4:
				l = near(antipode)
			default:
				l = geo.Location{Lat: math.Round(deg(-90, 90)*100) / 100, Lon: math.Round(deg(-180, 180)*100) / 100, HasCoords: true}
			}
			locs = append(locs, l)
		}
		keys := map[string]string{}
		var names []string
		want, wantKm := "", 0.0
		for j, l := range locs {
			name := fmt.Sprintf("r%d", j)
			names = append(names, `"`+name+`"`)
			keys["regions/"+name] = fmt.Sprintf(`{"location":{"lat":%s,"lon":%s},"proxies":["127.0.1.%d"]}`, f(l.Lat), f(l.Lon), j+1)
			km := geo.DistanceKm(client, l)
			if want == "" || km < wantKm {
				want, wantKm = name, km
			} else if km == wantKm {
				ties++
			}
		}
		keys["services/www.gslb.example."] = `{"policy":"geo","regions":[` + strings.Join(names, ",") + `]}`
		s := build(t, base, keys)
		for _, explain := range []bool{false, true} {
			q := Query{Name: "www.gslb.example.", Client: addr("10.0.0.1"), SourceBits: -1, Geo: fixedLocator(client), Explain: explain}
			d, err := Steer(s, q)
			if err != nil {
				t.Fatal(err)
			}
			if d.Region != want {
				t.Fatalf("case %d, client (%s, %s), Explain %v: Steer = %s, DistanceKm's nearest is %s\nregions: %s\nreasons:\n  %s",
					i, f(client.Lat), f(client.Lon), explain, d.Region, want, keys["services/www.gslb.example."], strings.Join(d.Reasons, "\n  "))
			}
		}
	}
	if ties < 100 {
		t.Errorf("only %d ties in the sample; the generator drifted", ties)
	}
}

// TestSteerAllocs: the answer path (Explain off, Buf given) allocates
// nothing, for geo steering by distance, by override and by continent,
// and for failover.
func TestSteerAllocs(t *testing.T) {
	s := build(t, demo, map[string]string{
		"services/failover.gslb.example.": `{"policy":"failover","regions":["us-east","eu-west"]}`,
		"services/override.gslb.example.": `{"policy":"geo","regions":["eu-west","us-east"],"overrides":[{"countries":["FR"],"regions":["us-east"]}]}`,
	})
	buf := make([]netip.Addr, 0, MaxAnswers)
	tests := []struct{ name, service, client string }{
		{"geo by distance (mmdb)", "www.gslb.example.", "24.1.1.1"},
		{"geo by distance (network)", "www.gslb.example.", "192.0.2.1"},
		{"geo continent only", "www.gslb.example.", "41.1.1.1"},
		{"geo override", "override.gslb.example.", "81.2.3.4"},
		{"failover", "failover.gslb.example.", "81.2.3.4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := Query{Name: tc.service, Client: addr(tc.client), SourceBits: 24, Geo: db, Buf: buf}
			if n := testing.AllocsPerRun(100, func() {
				if _, err := Steer(s, q); err != nil {
					t.Fatal(err)
				}
			}); n != 0 {
				t.Errorf("Steer(%s, %s) allocs = %v, want 0", tc.service, tc.client, n)
			}
		})
	}
}
