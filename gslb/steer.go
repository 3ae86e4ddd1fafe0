package gslb

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/meridian-gslb/meridian/gslb/geo"
)

// ErrNoService is returned by Steer for a name that is not a service.
var ErrNoService = errors.New("gslb: not a service")

// Query is one steering question.
type Query struct {
	// Name is the canonical service name ("www.gslb.example.").
	Name string
	// IPv6 asks for AAAA addresses instead of A.
	IPv6 bool
	// Client is the address that decides the location: the EDNS Client
	// Subnet address when the resolver sent one, else the resolver's.
	Client netip.Addr
	// SourceBits is the ECS source prefix length, or -1 without ECS.
	SourceBits int
	// Geo is the GeoIP database, consulted after the operator networks.
	// Nil means operator networks only.
	Geo geo.Locator
	// Seed rotates which addresses come first when a region has more
	// than the service answers with.
	Seed uint32
	// Explain collects the reasons for the decision (allocates; off on
	// the answer path).
	Explain bool
	// Buf, when it has room, receives the answer addresses so that the
	// answer path does not allocate.
	Buf []netip.Addr
}

// Decision is the outcome of Steer.
type Decision struct {
	Service *Service
	// Region is the chosen region; "" when no region is answered.
	Region string
	// Addrs are the addresses to answer, possibly none (NODATA): the
	// region has no address of the asked family, or fallback is none.
	Addrs []netip.Addr
	TTL   time.Duration
	// Scope is the ECS scope prefix length to answer with: the prefix the
	// decision depended on, 0 when it did not depend on the client.
	Scope int
	// Location is where the client was placed.
	Location geo.Location
	// Fallback is set when no region was eligible and the service's
	// fallback decided.
	Fallback bool
	// Reasons say why, in order (only with Query.Explain).
	Reasons []string
}

// Steer decides the answer for a service. It is a pure function of the
// snapshot and the query: no clock, no I/O, no logging. With Explain off it
// does not allocate (Buf given), since it runs once per DNS answer.
func Steer(s *Snapshot, q Query) (Decision, error) {
	st := s.services[q.Name]
	if st == nil {
		return Decision{}, ErrNoService
	}
	svc := st.s
	d := Decision{Service: svc, TTL: svc.TTL.D()}
	c := steerer{st: st, v6: q.IPv6, explain: q.Explain}
	if svc.Policy == PolicyGeo {
		d.Location = c.locate(s, q)
		d.Scope = geoScope(s, q, d.Location)
		c.geo, c.loc = true, d.Location
	}
	rs := c.pick()
	if rs == nil {
		d.Fallback = true
		if svc.Fallback == FallbackNone {
			c.say("no region eligible; fallback none: NODATA")
		} else {
			c.say("no region eligible; fallback all: steering as if every enabled region were healthy")
			c.ignoreHealth = true
			rs = c.pick()
		}
	}
	if rs == nil {
		d.Reasons = c.reasons
		return d, nil
	}
	d.Region = rs.r.Name
	d.Addrs = pickAddrs(rs, q, svc.Answers, d.Fallback)
	if c.explain {
		fam := "A"
		if q.IPv6 {
			fam = "AAAA"
		}
		if len(d.Addrs) == 0 {
			c.say("region %s has no %s address to answer: NODATA", rs.r.Name, fam)
		} else {
			c.say("answer %d %s record(s) of region %s, TTL %s, ECS scope /%d", len(d.Addrs), fam, rs.r.Name, d.TTL, d.Scope)
		}
	}
	d.Reasons = c.reasons
	return d, nil
}

// steerer carries what every step of one decision needs. Calls to say are
// guarded by explain at the call sites that format values, so that the
// answer path does not box arguments it will never print.
type steerer struct {
	st           *serviceState
	v6           bool
	geo          bool
	loc          geo.Location
	at           geo.Vector // loc on the unit sphere, computed once when first needed
	hasAt        bool
	ignoreHealth bool
	explain      bool
	reasons      []string
}

func (c *steerer) say(format string, args ...any) {
	if c.explain {
		c.reasons = append(c.reasons, fmt.Sprintf(format, args...))
	}
}

func (c *steerer) pick() *regionState {
	if c.geo {
		return c.steerGeo()
	}
	return c.steerFailover()
}

func (c *steerer) locate(s *Snapshot, q Query) geo.Location {
	if !q.Client.IsValid() {
		c.say("no client address")
		return geo.Location{}
	}
	loc, ok := s.Locate(q.Client, q.Geo)
	if !c.explain {
		return loc
	}
	switch {
	case !ok || !loc.Known():
		c.say("client %s: location unknown", q.Client)
	case loc.HasCoords:
		c.say("client %s located by %s: %s/%s (%.2f, %.2f)", q.Client, loc.Source, loc.Country, loc.Continent, loc.Lat, loc.Lon)
	default:
		c.say("client %s located by %s: %s/%s, no coordinates", q.Client, loc.Source, loc.Country, loc.Continent)
	}
	return loc
}

// geoScope is the ECS scope of a geo decision: how far around the client
// the location holds (Snapshot.Locate makes it safe against nested
// operator networks).
func geoScope(s *Snapshot, q Query, loc geo.Location) int {
	if q.SourceBits < 0 || !q.Client.IsValid() {
		return 0
	}
	bits := loc.Bits
	if bits <= 0 {
		// No network told us how far the answer holds: claim no more than
		// the client gave.
		bits = q.SourceBits
	}
	return bits
}

// eligible reports whether a region can take new clients of svc asking
// for one address family. Eligibility is per family, as Route 53 treats A
// and AAAA record sets apart: a region without IPv6 proxies is skipped for
// AAAA rather than answered with NODATA.
func eligible(rs *regionState, svc *Service, v6 bool) (bool, string) {
	up := rs.up4
	if v6 {
		up = rs.up6
	}
	switch {
	case rs.r.Disabled:
		return false, "disabled"
	case len(up) == 0 && len(rs.up4)+len(rs.up6) == 0:
		return false, "no proxy up"
	case len(up) == 0:
		return false, "no proxy of this address family up"
	case rs.hasHeartbeat && rs.total > 0 && rs.healthy == 0:
		return false, "no healthy backend"
	case rs.hasHeartbeat && rs.total > 0 && float64(rs.healthy) < svc.MinHealthyFraction*float64(rs.total):
		return false, "healthy backends below min_healthy_fraction"
	}
	return true, ""
}

// usable is eligibility, or with ignoreHealth only the operator's switch
// and the presence of an address of the family.
func (c *steerer) usable(rs *regionState) bool {
	if c.ignoreHealth {
		all := rs.all4
		if c.v6 {
			all = rs.all6
		}
		return !rs.r.Disabled && len(all) > 0
	}
	ok, reason := eligible(rs, c.st.s, c.v6)
	if !ok && c.explain {
		c.say("region %s not eligible: %s (healthy backends %d of %d)", rs.r.Name, reason, rs.healthy, rs.total)
	}
	return ok
}

func (c *steerer) steerFailover() *regionState {
	for i, rs := range c.st.regions {
		if c.usable(rs) {
			if c.explain {
				c.say("failover: region %s is the first usable in order (position %d)", rs.r.Name, i+1)
			}
			return rs
		}
	}
	return nil
}

func (c *steerer) steerGeo() *regionState {
	loc := c.loc
	if loc.Known() {
		for i := range c.st.overrides {
			o := &c.st.overrides[i]
			by, val, ok := o.matches(loc)
			if !ok {
				continue
			}
			for _, rs := range o.regions {
				if c.usable(rs) {
					if c.explain {
						c.say("override %d (%s %s) sends the client to region %s", i, by, val, rs.r.Name)
					}
					return rs
				}
			}
			if c.explain {
				c.say("override %d (%s %s) matched but none of its regions is usable", i, by, val)
			}
		}
	}
	if loc.HasCoords {
		var best *regionState
		bestCos, measured := 0.0, false
		for _, rs := range c.st.regions {
			if !c.usable(rs) {
				continue
			}
			if c.explain {
				c.say("region %s is %.0f km away", rs.r.Name, geo.DistanceKm(loc, rs.loc))
			}
			if best == nil {
				best = rs
				continue
			}
			if !measured {
				// Only now, with two usable regions: with one (an AAAA
				// question where a single region has IPv6, say) there is
				// nothing to rank. The client's vector is kept for the
				// second pass of fallback all.
				if !c.hasAt {
					c.at, c.hasAt = geo.VectorOf(loc), true
				}
				bestCos, measured = c.at.Cos(best.at), true
			}
			cos := c.at.Cos(rs.at)
			if c.nearer(rs, cos, best, bestCos) {
				best, bestCos = rs, cos
			}
		}
		if best != nil && c.explain {
			c.say("nearest usable region: %s", best.r.Name)
		}
		return best
	}
	if loc.Continent != "" {
		for _, rs := range c.st.regions {
			if rs.r.Continent == loc.Continent && c.usable(rs) {
				if c.explain {
					c.say("no coordinates: region %s is the first usable on continent %s", rs.r.Name, loc.Continent)
				}
				return rs
			}
		}
	}
	for _, rs := range c.st.regions {
		if c.usable(rs) {
			if c.explain {
				c.say("no usable location: region %s is the first usable in order", rs.r.Name)
			}
			return rs
		}
	}
	return nil
}

// nearer reports whether region a, whose cosine to the client is cosA, is
// strictly nearer the client than region b: exactly when DistanceKm says
// so, so that the nearest region is the one the haversine would pick and
// ties go to the earlier region in the list. Cosines further apart than
// geo.CosTolerance rank as the haversine does; closer ones (in practice,
// regions equally far from the client, or within metres of each other and
// of the client) are measured with DistanceKm, unless both regions sit at
// the same coordinates, where the haversine would give the same distance
// twice.
func (c *steerer) nearer(a *regionState, cosA float64, b *regionState, cosB float64) bool {
	switch {
	case cosA > cosB+geo.CosTolerance:
		return true
	case cosA < cosB-geo.CosTolerance:
		return false
	case a.loc.Lat == b.loc.Lat && a.loc.Lon == b.loc.Lon:
		return false
	}
	return geo.DistanceKm(c.loc, a.loc) < geo.DistanceKm(c.loc, b.loc)
}

// matches reports whether the override applies to loc, and by what
// ("country", "FR"). The two halves are returned apart, for explain to
// format: joining them here would allocate on the answer path.
func (o *overrideState) matches(loc geo.Location) (by, val string, ok bool) {
	if name, ok := cutNetworkSource(loc.Source); ok && o.networks[name] {
		return "network", name, true
	}
	for _, c := range o.o.Countries {
		if c == loc.Country {
			return "country", c, true
		}
	}
	for _, c := range o.o.Continents {
		if c == loc.Continent {
			return "continent", c, true
		}
	}
	return "", "", false
}

func cutNetworkSource(src string) (string, bool) {
	const p = "network:"
	if len(src) > len(p) && src[:len(p)] == p {
		return src[len(p):], true
	}
	return "", false
}

// pickAddrs returns up to n addresses of the family, rotated by the seed
// so that load spreads over a region's proxies.
func pickAddrs(rs *regionState, q Query, n int, fallback bool) []netip.Addr {
	src := rs.up4
	if q.IPv6 {
		src = rs.up6
	}
	if fallback {
		// Failing open: every address, not only those believed up.
		src = rs.all4
		if q.IPv6 {
			src = rs.all6
		}
	}
	if len(src) == 0 {
		return nil
	}
	if n > len(src) {
		n = len(src)
	}
	out := q.Buf[:0]
	start := int(q.Seed % uint32(len(src)))
	for i := range n {
		out = append(out, src[(start+i)%len(src)])
	}
	return out
}
