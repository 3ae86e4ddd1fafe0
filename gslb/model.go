package gslb

import (
	"encoding/json"
	"net/netip"
	"time"
)

// Zone is the value of zones/<zone>: a zone delegated to Meridian.
type Zone struct {
	// TTL is the default TTL of the apex SOA and NS records and of static
	// records that do not carry their own. Default 1h.
	TTL Duration `json:"ttl,omitempty"`
	// SOA fields. Missing fields get defaults (see Defaults).
	SOA SOA `json:"soa,omitzero"`
	// Nameservers are the zone's NS records. A nameserver inside the zone
	// must list its addresses, which are served as glue.
	Nameservers []Nameserver `json:"nameservers"`
	// Records are static records in zone-file syntax, relative names allowed
	// ("mail 300 IN MX 10 mx.example.net."). They are parsed by the DNS
	// server's record parser (Validators.Record).
	Records []string `json:"records,omitempty"`

	// Name is the canonical zone name ("gslb.example."), from the key.
	Name string `json:"-"`
}

// SOA holds the fields of the zone's SOA record that an operator may set.
// The serial is not among them: it is the etcd revision of the snapshot, so
// every server at the same revision serves the same serial.
type SOA struct {
	MName   string   `json:"mname,omitempty"`   // default: first nameserver
	RName   string   `json:"rname,omitempty"`   // default: hostmaster.<zone>
	Refresh Duration `json:"refresh,omitempty"` // default 1h
	Retry   Duration `json:"retry,omitempty"`   // default 15m
	Expire  Duration `json:"expire,omitempty"`  // default 2w
	// Minimum is the negative-caching TTL (RFC 2308). Default 30s: short,
	// because a name that is missing now may be added by an etcdctl put in
	// a moment and resolvers should not remember its absence for long.
	Minimum Duration `json:"minimum,omitempty"`
}

// Nameserver is one NS record of a zone, with glue when it is in the zone.
type Nameserver struct {
	Name string       `json:"name"`
	IPv4 []netip.Addr `json:"ipv4,omitempty"`
	IPv6 []netip.Addr `json:"ipv6,omitempty"`
}

// Region is the value of regions/<region>: a place that runs proxies.
type Region struct {
	// Location is where the region is; geo steering measures distance to it.
	Location Coordinates `json:"location"`
	// Country and Continent (ISO 3166 alpha-2 and two-letter continent code)
	// let continent overrides and location-less clients pick sensibly.
	Country   string `json:"country,omitempty"`
	Continent string `json:"continent,omitempty"`
	// Proxies are the addresses answered for this region (IPv4 for A, IPv6
	// for AAAA). Usually the regional proxies or their load balancer.
	Proxies []netip.Addr `json:"proxies"`
	// HTTPPort is the port the region's proxies serve HTTP on, used when
	// another region's proxy spills traffic over to this one. Default 80.
	HTTPPort int `json:"http_port,omitempty"`
	// Check is how probers check the region's proxy addresses (a probes.Check
	// in JSON); validated by Validators.Check. Optional.
	Check json.RawMessage `json:"check,omitempty"`
	// Disabled takes the region out of every answer, healthy or not.
	Disabled bool `json:"disabled,omitempty"`

	// Name is the region name, from the key.
	Name string `json:"-"`
}

// Coordinates are a point on Earth in decimal degrees.
type Coordinates struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Policy names a steering policy.
type Policy string

// Steering policies.
const (
	// PolicyGeo answers with the nearest eligible region to the client.
	PolicyGeo Policy = "geo"
	// PolicyFailover answers with the first eligible region in list order.
	PolicyFailover Policy = "failover"
)

// Fallback says what a service answers when no region is eligible.
type Fallback string

// Fallbacks.
const (
	// FallbackAll steers as if every enabled region were healthy (fail
	// open, as Route 53 does when all records are unhealthy). Default.
	FallbackAll Fallback = "all"
	// FallbackNone answers NODATA: no address rather than a dead one.
	FallbackNone Fallback = "none"
)

// Service is the value of services/<fqdn>: a steered name.
type Service struct {
	Policy Policy `json:"policy"`
	// Regions are the candidate regions, in order of preference (the order
	// breaks ties for geo and is the order for failover).
	Regions []string `json:"regions"`
	// TTL of the answer. Default 30s; bounds 1s..1h.
	TTL Duration `json:"ttl,omitempty"`
	// Answers is how many addresses of the chosen region go in one answer.
	// Default 2, so a client has a second address to try.
	Answers int `json:"answers,omitempty"`
	// Overrides send matching clients to given regions before distance is
	// considered. The first matching override with an eligible region wins.
	Overrides []Override `json:"overrides,omitempty"`
	// Fallback when no region is eligible: "all" (default) or "none".
	Fallback Fallback `json:"fallback,omitempty"`
	// MinHealthyFraction is the share of a region's backends (from proxy
	// heartbeats) that must be healthy for the region to be eligible.
	// Default 0: any healthy backend will do.
	MinHealthyFraction float64 `json:"min_healthy_fraction,omitempty"`

	// Name is the canonical service name, from the key.
	Name string `json:"-"`
}

// Override sends clients that match any of its selectors to Regions.
type Override struct {
	Countries  []string `json:"countries,omitempty"`
	Continents []string `json:"continents,omitempty"`
	// Networks names geo/networks/<name> entries.
	Networks []string `json:"networks,omitempty"`
	Regions  []string `json:"regions"`
}

// Pool is the value of pools/<region>/<pool>: what a regional proxy
// balances for a set of host names.
type Pool struct {
	// Hosts are the HTTP Host names served by this pool ("*" matches any).
	Hosts    []string  `json:"hosts"`
	Backends []Backend `json:"backends"`
	// Balancer: "round_robin" (default), "least_request" or "random".
	Balancer string `json:"balancer,omitempty"`
	// Check is the active health check of the backends (a probes.Check in
	// JSON); validated by Validators.Check. Optional: without it, backends
	// are held up by passive checks only.
	Check json.RawMessage `json:"check,omitempty"`
	// Retries is how many other backends a failed attempt may be retried
	// on. Default 2.
	Retries *int `json:"retries,omitempty"`
	// ConnectTimeout bounds a dial to a backend. Default 2s.
	ConnectTimeout Duration `json:"connect_timeout,omitempty"`
	// ResponseTimeout bounds the wait for a backend's response headers.
	// Default 30s.
	ResponseTimeout Duration `json:"response_timeout,omitempty"`
	// Spillover lists regions whose proxies take the traffic when no local
	// backend is up, in order.
	Spillover []string `json:"spillover,omitempty"`

	// Region and Name come from the key.
	Region string `json:"-"`
	Name   string `json:"-"`
}

// Backend is one upstream of a pool.
type Backend struct {
	// Address is host:port.
	Address string `json:"address"`
	// Weight for weighted balancing. Default 1.
	Weight int `json:"weight,omitempty"`
}

// Network is the value of geo/networks/<name>: operator ranges with a
// known location, consulted before the GeoIP database.
type Network struct {
	CIDRs     []netip.Prefix `json:"cidrs"`
	Location  *Coordinates   `json:"location,omitempty"`
	Country   string         `json:"country,omitempty"`
	Continent string         `json:"continent,omitempty"`

	Name string `json:"-"`
}

// ProxyStatus is the value of status/proxies/<region>/<instance>, written by
// each regional proxy on a lease.
type ProxyStatus struct {
	// Address is the proxy's advertised address, as in the region's
	// proxies list.
	Address         netip.Addr `json:"address"`
	HealthyBackends int        `json:"healthy_backends"`
	TotalBackends   int        `json:"total_backends"`
	Draining        bool       `json:"draining,omitempty"`
	// InFlight is the number of requests being served (load).
	InFlight int64     `json:"in_flight,omitempty"`
	Updated  time.Time `json:"updated"`

	Region   string `json:"-"`
	Instance string `json:"-"`
}

// ProbeStatus is the value of status/probes/<prober>/<target>, written by
// each prober on a lease. Target is a proxy address.
type ProbeStatus struct {
	Up      bool      `json:"up"`
	RTT     Duration  `json:"rtt,omitempty"`
	Detail  string    `json:"detail,omitempty"`
	Updated time.Time `json:"updated"`

	Prober string     `json:"-"`
	Target netip.Addr `json:"-"`
}
