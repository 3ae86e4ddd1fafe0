package gslb

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/meridian-gslb/meridian/gslb/geo"
)

// Snapshot is an immutable view of the whole keyspace at one etcd revision,
// with everything the answer path needs precomputed: zones by name,
// services with their regions resolved, health per address and region.
// Build makes one; nothing changes it afterwards, so readers share it
// without locks.
type Snapshot struct {
	// Revision is the etcd revision the snapshot reflects.
	Revision int64

	entries  map[string]Entry
	zones    map[string]*Zone
	zoneList []*Zone // longest name first, for FindZone
	regions  map[string]*regionState
	services map[string]*serviceState
	pools    map[string][]*Pool // by region, sorted by name
	networks map[string]*Network
	netTable *geo.Networks
	health   map[netip.Addr]AddrHealth
	probes   map[netip.Addr][]*ProbeStatus
	proxies  map[string][]*ProxyStatus // by region

	problems    []*KeyError
	problemKeys map[string]bool
	monitored   bool
}

// AddrHealth is the verdict on one proxy address, and why.
type AddrHealth struct {
	Up bool
	// Reason explains the verdict ("2 of 3 probers see it up").
	Reason string
}

type regionState struct {
	r              *Region
	loc            geo.Location
	at             geo.Vector // loc on the unit sphere, for ranking by distance
	up4, up6       []netip.Addr
	all4, all6     []netip.Addr
	healthy, total int // backends, from heartbeats of up proxies
	hasHeartbeat   bool
}

type serviceState struct {
	s         *Service
	zone      *Zone
	regions   []*regionState // resolved, in configured order; missing skipped
	overrides []overrideState
}

type overrideState struct {
	o        *Override
	regions  []*regionState
	networks map[string]bool
}

// Build makes a snapshot from decoded entries (keyed by Key.String()). It
// never fails: a reference to something missing (a service naming a
// deleted region, say) is skipped and reported in Problems, so that one
// dangling reference cannot take down answers for everything else. The
// store uses Problems to refuse a put that introduces one.
func Build(entries map[string]Entry, revision int64) *Snapshot {
	s := &Snapshot{
		Revision:    revision,
		entries:     entries,
		zones:       map[string]*Zone{},
		regions:     map[string]*regionState{},
		services:    map[string]*serviceState{},
		pools:       map[string][]*Pool{},
		networks:    map[string]*Network{},
		health:      map[netip.Addr]AddrHealth{},
		probes:      map[netip.Addr][]*ProbeStatus{},
		proxies:     map[string][]*ProxyStatus{},
		problemKeys: map[string]bool{},
	}
	var services []*Service
	var pools []*Pool
	// Sorted so that problems and tie-breaks come out the same on every
	// server at the same revision.
	keys := make([]string, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := entries[k].Value.(type) {
		case *Zone:
			s.zones[v.Name] = v
			s.zoneList = append(s.zoneList, v)
		case *Region:
			loc := regionLocation(v)
			s.regions[v.Name] = &regionState{r: v, loc: loc, at: geo.VectorOf(loc)}
		case *Service:
			services = append(services, v)
		case *Pool:
			pools = append(pools, v)
		case *Network:
			s.networks[v.Name] = v
		case *ProxyStatus:
			s.proxies[v.Region] = append(s.proxies[v.Region], v)
			s.monitored = true
		case *ProbeStatus:
			s.probes[v.Target] = append(s.probes[v.Target], v)
			s.monitored = true
		}
	}
	sort.SliceStable(s.zoneList, func(i, j int) bool { return len(s.zoneList[i].Name) > len(s.zoneList[j].Name) })
	s.buildNetworks()
	s.buildHealth()
	for _, svc := range services {
		s.services[svc.Name] = s.compileService(svc)
	}
	for _, p := range pools {
		key := Key{Kind: KindPool, Parent: p.Region, Name: p.Name}.String()
		if _, ok := s.regions[p.Region]; !ok {
			s.problem(key, "", fmt.Errorf("region %s does not exist", p.Region))
		}
		for i, r := range p.Spillover {
			if _, ok := s.regions[r]; !ok {
				s.problem(key, fmt.Sprintf("spillover[%d]", i), fmt.Errorf("region %s does not exist", r))
			}
		}
		s.pools[p.Region] = append(s.pools[p.Region], p)
	}
	return s
}

func (s *Snapshot) problem(key, field string, err error) {
	s.problems = append(s.problems, &KeyError{Key: key, Field: field, Err: err})
	s.problemKeys[key] = true
}

func regionLocation(r *Region) geo.Location {
	return geo.Location{
		Lat: r.Location.Lat, Lon: r.Location.Lon, HasCoords: true,
		Country: r.Country, Continent: r.Continent,
	}
}

func (s *Snapshot) buildNetworks() {
	var nets []geo.Network
	for _, n := range s.networks {
		loc := geo.Location{Country: n.Country, Continent: n.Continent}
		if n.Location != nil {
			loc.Lat, loc.Lon, loc.HasCoords = n.Location.Lat, n.Location.Lon, true
		} else if lat, lon, ok := geo.CountryCentroid(n.Country); ok {
			loc.Lat, loc.Lon, loc.HasCoords = lat, lon, true
		}
		for _, p := range n.CIDRs {
			nets = append(nets, geo.Network{Name: n.Name, Prefix: p, Location: loc})
		}
	}
	if len(nets) > 0 {
		s.netTable = geo.NewNetworks(nets)
	}
}

// buildHealth decides, for every proxy address, whether it is up; see
// docs/health.md. In order:
//  1. a heartbeat that says draining: down (no new clients);
//  2. probe reports: up unless a strict majority says down (a tie keeps it
//     up: one confused prober must not move traffic);
//  3. a heartbeat: up;
//  4. no evidence: down, unless the keyspace has no health data at all
//     (no prober and no proxy deployed yet), in which case every address is
//     up, as a Route 53 record without a health check is.
func (s *Snapshot) buildHealth() {
	for name, rs := range s.regions {
		beats := map[netip.Addr][]*ProxyStatus{}
		for _, ps := range s.proxies[name] {
			beats[ps.Address] = append(beats[ps.Address], ps)
		}
		for _, a := range rs.r.Proxies {
			h := s.addrHealth(a, beats[a])
			s.health[a] = h
			if a.Is4() {
				rs.all4 = append(rs.all4, a)
			} else {
				rs.all6 = append(rs.all6, a)
			}
			if !h.Up {
				continue
			}
			if a.Is4() {
				rs.up4 = append(rs.up4, a)
			} else {
				rs.up6 = append(rs.up6, a)
			}
			for _, b := range beats[a] {
				rs.hasHeartbeat = true
				rs.healthy += b.HealthyBackends
				rs.total += b.TotalBackends
			}
		}
	}
}

func (s *Snapshot) addrHealth(a netip.Addr, beats []*ProxyStatus) AddrHealth {
	draining := 0
	for _, b := range beats {
		if b.Draining {
			draining++
		}
	}
	if len(beats) > 0 && draining == len(beats) {
		return AddrHealth{Up: false, Reason: "draining"}
	}
	if reports := s.probes[a]; len(reports) > 0 {
		down := 0
		for _, r := range reports {
			if !r.Up {
				down++
			}
		}
		n := len(reports)
		if down*2 > n {
			return AddrHealth{Up: false, Reason: fmt.Sprintf("%d of %d probers see it down", down, n)}
		}
		return AddrHealth{Up: true, Reason: fmt.Sprintf("%d of %d probers see it up", n-down, n)}
	}
	if len(beats) > 0 {
		return AddrHealth{Up: true, Reason: "heartbeat"}
	}
	if !s.monitored {
		return AddrHealth{Up: true, Reason: "unmonitored: no health data in the keyspace"}
	}
	return AddrHealth{Up: false, Reason: "no heartbeat and no probe reports"}
}

func (s *Snapshot) compileService(svc *Service) *serviceState {
	key := Key{Kind: KindService, Name: svc.Name}.String()
	st := &serviceState{s: svc, zone: s.FindZone(svc.Name)}
	if st.zone == nil {
		s.problem(key, "", fmt.Errorf("%s is not inside any zone in zones/", svc.Name))
	}
	resolve := func(field string, names []string) []*regionState {
		var out []*regionState
		for i, n := range names {
			rs, ok := s.regions[n]
			if !ok {
				s.problem(key, fmt.Sprintf("%s[%d]", field, i), fmt.Errorf("region %s does not exist", n))
				continue
			}
			out = append(out, rs)
		}
		return out
	}
	st.regions = resolve("regions", svc.Regions)
	for i := range svc.Overrides {
		o := &svc.Overrides[i]
		f := fmt.Sprintf("overrides[%d]", i)
		os := overrideState{o: o, regions: resolve(f+".regions", o.Regions)}
		for j, n := range o.Networks {
			if _, ok := s.networks[n]; !ok {
				s.problem(key, fmt.Sprintf("%s.networks[%d]", f, j), fmt.Errorf("network %s does not exist in geo/networks/", n))
			}
			if os.networks == nil {
				os.networks = map[string]bool{}
			}
			os.networks[n] = true
		}
		st.overrides = append(st.overrides, os)
	}
	return st
}

// Problems lists the dangling references found while building: each names
// the key and field. They do not stop the snapshot from serving.
func (s *Snapshot) Problems() []*KeyError { return s.problems }

// HasProblem reports whether key (Key.String form) has a problem.
func (s *Snapshot) HasProblem(key string) bool { return s.problemKeys[key] }

// ProblemsOf returns the problems of one key.
func (s *Snapshot) ProblemsOf(key string) []*KeyError {
	var out []*KeyError
	for _, p := range s.problems {
		if p.Key == key {
			out = append(out, p)
		}
	}
	return out
}

// Entries returns the entries the snapshot was built from. Callers must
// not modify the map.
func (s *Snapshot) Entries() map[string]Entry { return s.entries }

// Zone returns the zone with canonical name, if any.
func (s *Snapshot) Zone(name string) *Zone { return s.zones[name] }

// Zones returns the zones, longest name first.
func (s *Snapshot) Zones() []*Zone { return s.zoneList }

// FindZone returns the most specific zone that contains the canonical
// name, or nil.
func (s *Snapshot) FindZone(name string) *Zone {
	for _, z := range s.zoneList {
		if InZone(name, z.Name) {
			return z
		}
	}
	return nil
}

// Service returns the service with canonical name, or nil.
func (s *Snapshot) Service(name string) *Service {
	if st := s.services[name]; st != nil {
		return st.s
	}
	return nil
}

// Services returns the service names, sorted.
func (s *Snapshot) Services() []string {
	out := make([]string, 0, len(s.services))
	for n := range s.services {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Region returns a region by name, or nil.
func (s *Snapshot) Region(name string) *Region {
	if rs := s.regions[name]; rs != nil {
		return rs.r
	}
	return nil
}

// Regions returns the region names, sorted.
func (s *Snapshot) Regions() []string {
	out := make([]string, 0, len(s.regions))
	for n := range s.regions {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Pools returns the pools of a region, sorted by name.
func (s *Snapshot) Pools(region string) []*Pool { return s.pools[region] }

// Health returns the verdict on a proxy address; ok is false when the
// address belongs to no region.
func (s *Snapshot) Health(a netip.Addr) (h AddrHealth, ok bool) {
	h, ok = s.health[a]
	return h, ok
}

// RegionHealth summarises a region for status pages and explain.
type RegionHealth struct {
	Up, All                []netip.Addr
	HealthyBackends, Total int
	Heartbeats             bool
}

// RegionHealth returns the health of a region's proxies.
func (s *Snapshot) RegionHealth(name string) (RegionHealth, bool) {
	rs := s.regions[name]
	if rs == nil {
		return RegionHealth{}, false
	}
	return RegionHealth{
		Up:              slices.Concat(rs.up4, rs.up6),
		All:             slices.Concat(rs.all4, rs.all6),
		HealthyBackends: rs.healthy, Total: rs.total, Heartbeats: rs.hasHeartbeat,
	}, true
}

// Locate finds a client's location in the operator networks, then db.
// Bits is safe as an ECS scope: never wide enough to cover an operator
// network the client is not in (geo.Chain takes the largest Bits of the
// locators it tried).
func (s *Snapshot) Locate(a netip.Addr, db geo.Locator) (geo.Location, bool) {
	if s.netTable == nil {
		if db == nil {
			return geo.Location{}, false
		}
		return db.Locate(a)
	}
	loc, ok := s.netTable.Locate(a)
	if ok || db == nil {
		return loc, ok
	}
	bits := loc.Bits
	loc, ok = db.Locate(a)
	loc.Bits = max(loc.Bits, bits)
	return loc, ok
}

// String summarises the snapshot for logs.
func (s *Snapshot) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "revision %d: %d zones, %d regions, %d services, %d networks", s.Revision, len(s.zones), len(s.regions), len(s.services), len(s.networks))
	if len(s.problems) > 0 {
		fmt.Fprintf(&b, ", %d problems", len(s.problems))
	}
	return b.String()
}
