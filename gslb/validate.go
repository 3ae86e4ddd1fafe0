package gslb

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/meridian-gslb/meridian/gslb/geo"
)

// Bounds and defaults. Each is documented in docs/policy.md.
const (
	DefaultZoneTTL    = time.Hour
	DefaultSOARefresh = time.Hour
	DefaultSOARetry   = 15 * time.Minute
	DefaultSOAExpire  = 14 * 24 * time.Hour
	DefaultSOAMinimum = 30 * time.Second

	DefaultServiceTTL = 30 * time.Second
	// MinServiceTTL: below one second resolvers round to zero or ignore it.
	MinServiceTTL = time.Second
	// MaxServiceTTL: a steered answer cached for longer than an hour makes
	// failover meaningless.
	MaxServiceTTL = time.Hour
	// DefaultAnswers gives a client a second address to try.
	DefaultAnswers = 2
	// MaxAnswers keeps an answer with ECS and glue far below 512 bytes.
	MaxAnswers = 8

	DefaultRetries         = 2
	MaxRetries             = 10
	DefaultConnectTimeout  = 2 * time.Second
	DefaultResponseTimeout = 30 * time.Second
	MaxWeight              = 1000
)

// Balancers a pool may name.
var Balancers = []string{"round_robin", "least_request", "random"}

func validate(val any, v Validators) error {
	switch x := val.(type) {
	case *Zone:
		return x.validate(v)
	case *Region:
		return x.validate(v)
	case *Service:
		return x.validate()
	case *Pool:
		return x.validate(v)
	case *Network:
		return x.validate()
	case *ProxyStatus:
		return x.validate()
	case *ProbeStatus:
		return nil
	}
	return fmt.Errorf("unknown value type %T", val)
}

func (z *Zone) validate(v Validators) error {
	var errs []error
	if z.TTL == 0 {
		z.TTL = Duration(DefaultZoneTTL)
	}
	errs = append(errs, checkDuration("ttl", z.TTL.D(), time.Second, 7*24*time.Hour))
	if len(z.Nameservers) == 0 {
		errs = append(errs, ferr("nameservers", "at least one nameserver is required"))
	}
	seen := map[string]bool{}
	for i := range z.Nameservers {
		ns := &z.Nameservers[i]
		f := fmt.Sprintf("nameservers[%d]", i)
		name, err := CanonicalName(ns.Name)
		if err != nil {
			errs = append(errs, ferr(f+".name", "%v", err))
			continue
		}
		ns.Name = name
		if seen[name] {
			errs = append(errs, ferr(f+".name", "duplicate nameserver %s", name))
		}
		seen[name] = true
		errs = append(errs, checkFamilies(f, ns.IPv4, ns.IPv6))
		if InZone(name, z.Name) && len(ns.IPv4)+len(ns.IPv6) == 0 {
			errs = append(errs, ferr(f, "%s is inside the zone, so it needs ipv4 or ipv6 addresses for glue", name))
		}
	}
	s := &z.SOA
	if s.MName == "" && len(z.Nameservers) > 0 {
		s.MName = z.Nameservers[0].Name
	} else if s.MName != "" {
		n, err := CanonicalName(s.MName)
		if err != nil {
			errs = append(errs, ferr("soa.mname", "%v", err))
		}
		s.MName = n
	}
	if s.RName == "" {
		s.RName = "hostmaster." + z.Name
	} else {
		n, err := CanonicalName(strings.Replace(s.RName, "@", ".", 1))
		if err != nil {
			errs = append(errs, ferr("soa.rname", "%v", err))
		}
		s.RName = n
	}
	setDefault(&s.Refresh, DefaultSOARefresh)
	setDefault(&s.Retry, DefaultSOARetry)
	setDefault(&s.Expire, DefaultSOAExpire)
	setDefault(&s.Minimum, DefaultSOAMinimum)
	errs = append(errs,
		checkDuration("soa.refresh", s.Refresh.D(), time.Second, 1<<31*time.Second),
		checkDuration("soa.retry", s.Retry.D(), time.Second, 1<<31*time.Second),
		checkDuration("soa.expire", s.Expire.D(), time.Second, 1<<31*time.Second),
		// RFC 2308 recommends 1-3 hours at most for negative caching.
		checkDuration("soa.minimum", s.Minimum.D(), 0, 3*time.Hour),
	)
	for i, r := range z.Records {
		if v.Record == nil {
			continue
		}
		if err := v.Record(z.Name, r); err != nil {
			errs = append(errs, ferr(fmt.Sprintf("records[%d]", i), "%v", err))
		}
	}
	return errors.Join(errs...)
}

func (r *Region) validate(v Validators) error {
	var errs []error
	errs = append(errs, checkCoords("location", r.Location))
	errs = append(errs, checkCountryContinent("", r.Country, r.Continent))
	if r.Country != "" {
		r.Country = strings.ToUpper(r.Country)
	}
	if r.Continent == "" && r.Country != "" {
		r.Continent = geo.ContinentOf(r.Country)
	}
	r.Continent = strings.ToUpper(r.Continent)
	if len(r.Proxies) == 0 {
		errs = append(errs, ferr("proxies", "at least one proxy address is required"))
	}
	seen := map[netip.Addr]bool{}
	for i, a := range r.Proxies {
		f := fmt.Sprintf("proxies[%d]", i)
		a = a.Unmap()
		r.Proxies[i] = a
		switch {
		case !a.IsValid():
			errs = append(errs, ferr(f, "not an address"))
		case a.Zone() != "":
			errs = append(errs, ferr(f, "%s: zoned addresses cannot be answered in DNS", a))
		case a.IsUnspecified() || a.IsMulticast():
			errs = append(errs, ferr(f, "%s is not a unicast address", a))
		case seen[a]:
			errs = append(errs, ferr(f, "duplicate address %s", a))
		}
		seen[a] = true
	}
	if r.HTTPPort == 0 {
		r.HTTPPort = 80
	}
	if r.HTTPPort < 1 || r.HTTPPort > 65535 {
		errs = append(errs, ferr("http_port", "%d out of range 1..65535", r.HTTPPort))
	}
	if len(r.Check) > 0 && v.Check != nil {
		if err := v.Check(r.Check); err != nil {
			errs = append(errs, ferr("check", "%v", err))
		}
	}
	return errors.Join(errs...)
}

func (s *Service) validate() error {
	var errs []error
	switch s.Policy {
	case PolicyGeo, PolicyFailover:
	case "":
		errs = append(errs, ferr("policy", "required: one of geo, failover"))
	default:
		errs = append(errs, ferr("policy", "%q is not a policy (want geo or failover)", s.Policy))
	}
	if len(s.Regions) == 0 {
		errs = append(errs, ferr("regions", "at least one region is required"))
	}
	errs = append(errs, checkRegionList("regions", s.Regions))
	setDefault(&s.TTL, DefaultServiceTTL)
	errs = append(errs, checkDuration("ttl", s.TTL.D(), MinServiceTTL, MaxServiceTTL))
	if s.TTL.D()%time.Second != 0 {
		errs = append(errs, ferr("ttl", "%s: DNS TTLs are whole seconds", s.TTL.D()))
	}
	if s.Answers == 0 {
		s.Answers = DefaultAnswers
	}
	if s.Answers < 1 || s.Answers > MaxAnswers {
		errs = append(errs, ferr("answers", "%d out of range 1..%d", s.Answers, MaxAnswers))
	}
	switch s.Fallback {
	case "":
		s.Fallback = FallbackAll
	case FallbackAll, FallbackNone:
	default:
		errs = append(errs, ferr("fallback", "%q is not a fallback (want all or none)", s.Fallback))
	}
	if s.MinHealthyFraction < 0 || s.MinHealthyFraction > 1 {
		errs = append(errs, ferr("min_healthy_fraction", "%g out of range 0..1", s.MinHealthyFraction))
	}
	for i := range s.Overrides {
		o := &s.Overrides[i]
		f := fmt.Sprintf("overrides[%d]", i)
		if len(o.Countries)+len(o.Continents)+len(o.Networks) == 0 {
			errs = append(errs, ferr(f, "needs at least one of countries, continents, networks"))
		}
		for j, c := range o.Countries {
			o.Countries[j] = strings.ToUpper(c)
			if !geo.ValidCountry(o.Countries[j]) {
				errs = append(errs, ferr(fmt.Sprintf("%s.countries[%d]", f, j), "%q is not an ISO 3166-1 alpha-2 country code", c))
			}
		}
		for j, c := range o.Continents {
			o.Continents[j] = strings.ToUpper(c)
			if !geo.ValidContinent(o.Continents[j]) {
				errs = append(errs, ferr(fmt.Sprintf("%s.continents[%d]", f, j), "%q is not a continent code (AF AN AS EU NA OC SA)", c))
			}
		}
		for j, n := range o.Networks {
			if err := checkID(n); err != nil {
				errs = append(errs, ferr(fmt.Sprintf("%s.networks[%d]", f, j), "%v", err))
			}
		}
		if len(o.Regions) == 0 {
			errs = append(errs, ferr(f+".regions", "at least one region is required"))
		}
		errs = append(errs, checkRegionList(f+".regions", o.Regions))
	}
	return errors.Join(errs...)
}

func (p *Pool) validate(v Validators) error {
	var errs []error
	if len(p.Hosts) == 0 {
		errs = append(errs, ferr("hosts", "at least one host name is required (\"*\" for any)"))
	}
	for i, h := range p.Hosts {
		if h == "*" {
			continue
		}
		n, err := CanonicalName(h)
		if err != nil {
			errs = append(errs, ferr(fmt.Sprintf("hosts[%d]", i), "%v", err))
			continue
		}
		p.Hosts[i] = strings.TrimSuffix(n, ".")
	}
	if len(p.Backends) == 0 {
		errs = append(errs, ferr("backends", "at least one backend is required"))
	}
	seen := map[string]bool{}
	for i := range p.Backends {
		b := &p.Backends[i]
		f := fmt.Sprintf("backends[%d]", i)
		if err := checkHostPort(b.Address); err != nil {
			errs = append(errs, ferr(f+".address", "%v", err))
		}
		if seen[b.Address] {
			errs = append(errs, ferr(f+".address", "duplicate backend %s", b.Address))
		}
		seen[b.Address] = true
		if b.Weight == 0 {
			b.Weight = 1
		}
		if b.Weight < 1 || b.Weight > MaxWeight {
			errs = append(errs, ferr(f+".weight", "%d out of range 1..%d", b.Weight, MaxWeight))
		}
	}
	switch p.Balancer {
	case "":
		p.Balancer = Balancers[0]
	case "round_robin", "least_request", "random":
	default:
		errs = append(errs, ferr("balancer", "%q is not a balancer (want %s)", p.Balancer, strings.Join(Balancers, ", ")))
	}
	if p.Retries == nil {
		r := DefaultRetries
		p.Retries = &r
	}
	if *p.Retries < 0 || *p.Retries > MaxRetries {
		errs = append(errs, ferr("retries", "%d out of range 0..%d", *p.Retries, MaxRetries))
	}
	setDefault(&p.ConnectTimeout, DefaultConnectTimeout)
	setDefault(&p.ResponseTimeout, DefaultResponseTimeout)
	errs = append(errs,
		checkDuration("connect_timeout", p.ConnectTimeout.D(), time.Millisecond, time.Minute),
		checkDuration("response_timeout", p.ResponseTimeout.D(), time.Millisecond, time.Hour),
		checkRegionList("spillover", p.Spillover))
	for i, r := range p.Spillover {
		if r == p.Region {
			errs = append(errs, ferr(fmt.Sprintf("spillover[%d]", i), "%s is the pool's own region", r))
		}
	}
	if len(p.Check) > 0 && v.Check != nil {
		if err := v.Check(p.Check); err != nil {
			errs = append(errs, ferr("check", "%v", err))
		}
	}
	return errors.Join(errs...)
}

func (n *Network) validate() error {
	var errs []error
	if len(n.CIDRs) == 0 {
		errs = append(errs, ferr("cidrs", "at least one CIDR is required"))
	}
	for i, p := range n.CIDRs {
		if !p.IsValid() {
			errs = append(errs, ferr(fmt.Sprintf("cidrs[%d]", i), "not a prefix"))
			continue
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		if m := p.Masked(); m != p {
			errs = append(errs, ferr(fmt.Sprintf("cidrs[%d]", i), "%s has host bits set (did you mean %s?)", p, m))
		}
		n.CIDRs[i] = p
	}
	if n.Location != nil {
		errs = append(errs, checkCoords("location", *n.Location))
	}
	errs = append(errs, checkCountryContinent("", n.Country, n.Continent))
	n.Country = strings.ToUpper(n.Country)
	n.Continent = strings.ToUpper(n.Continent)
	if n.Continent == "" && n.Country != "" {
		n.Continent = geo.ContinentOf(n.Country)
	}
	if n.Location == nil && n.Country == "" && n.Continent == "" {
		errs = append(errs, ferr("location", "a network needs a location, a country or a continent"))
	}
	return errors.Join(errs...)
}

func (p *ProxyStatus) validate() error {
	var errs []error
	p.Address = p.Address.Unmap()
	if !p.Address.IsValid() {
		errs = append(errs, ferr("address", "required"))
	}
	if p.TotalBackends < 0 || p.HealthyBackends < 0 || p.HealthyBackends > p.TotalBackends {
		errs = append(errs, ferr("healthy_backends", "%d of %d makes no sense", p.HealthyBackends, p.TotalBackends))
	}
	return errors.Join(errs...)
}

func setDefault(d *Duration, def time.Duration) {
	if *d == 0 {
		*d = Duration(def)
	}
}

func checkDuration(field string, d, lo, hi time.Duration) error {
	if d < lo || d > hi {
		return ferr(field, "%s out of range %s..%s", d, lo, hi)
	}
	return nil
}

func checkCoords(field string, c Coordinates) error {
	var errs []error
	if c.Lat < -90 || c.Lat > 90 {
		errs = append(errs, ferr(field+".lat", "%g out of range -90..90", c.Lat))
	}
	if c.Lon < -180 || c.Lon > 180 {
		errs = append(errs, ferr(field+".lon", "%g out of range -180..180", c.Lon))
	}
	return errors.Join(errs...)
}

func checkCountryContinent(prefix, country, continent string) error {
	var errs []error
	if country != "" && !geo.ValidCountry(strings.ToUpper(country)) {
		errs = append(errs, ferr(prefix+"country", "%q is not an ISO 3166-1 alpha-2 country code", country))
	}
	if continent != "" && !geo.ValidContinent(strings.ToUpper(continent)) {
		errs = append(errs, ferr(prefix+"continent", "%q is not a continent code (AF AN AS EU NA OC SA)", continent))
	}
	return errors.Join(errs...)
}

func checkFamilies(field string, v4, v6 []netip.Addr) error {
	var errs []error
	for i, a := range v4 {
		if !a.Unmap().Is4() {
			errs = append(errs, ferr(fmt.Sprintf("%s.ipv4[%d]", field, i), "%s is not an IPv4 address", a))
		}
		v4[i] = a.Unmap()
	}
	for i, a := range v6 {
		if !a.Is6() || a.Is4In6() {
			errs = append(errs, ferr(fmt.Sprintf("%s.ipv6[%d]", field, i), "%s is not an IPv6 address", a))
		}
	}
	return errors.Join(errs...)
}

func checkRegionList(field string, regions []string) error {
	var errs []error
	seen := map[string]bool{}
	for i, r := range regions {
		f := fmt.Sprintf("%s[%d]", field, i)
		if err := checkRegionName(r); err != nil {
			errs = append(errs, ferr(f, "%v", err))
		}
		if seen[r] {
			errs = append(errs, ferr(f, "duplicate region %s", r))
		}
		seen[r] = true
	}
	return errors.Join(errs...)
}

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q: want host:port", s)
	}
	if host == "" {
		return fmt.Errorf("%q: empty host", s)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port out of range 1..65535", s)
	}
	return nil
}
