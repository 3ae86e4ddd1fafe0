package dnsserver

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/gslb"
)

// compiled is a snapshot turned into what the answer path reads: every
// owner name of every zone in one map, RRs built once. It is immutable
// after compile and shared by all queries on that snapshot.
type compiled struct {
	snap  *gslb.Snapshot
	names map[string]*node // canonical owner name -> node, empty non-terminals included
	zones map[string]*zone
	// problems are the records and conflicts that compile dropped, for the
	// log. Decode-time validation (CheckRecord) catches the rest.
	problems []problem
}

type problem struct {
	zone, record, reason string
}

type zone struct {
	name     string
	apex     *node
	ttl      uint32
	negSOA   dns.RR   // the SOA for authority sections: TTL = min(zone TTL, SOA minimum), RFC 2308 §3
	glue     []dns.RR // A/AAAA of in-zone nameservers, for the additional section of NS answers
	hinfo    *dns.HINFO
	counters *zoneCounters

	keys   []*Key   // DNSSEC signing keys; nil: the zone is served unsigned
	parent *zone    // the zone this one is nested in, when we serve it too
	ds     []dns.RR // the DS RRset its parent answers with, when both are signed
}

// node is one owner name. A node without RRsets and service is an empty
// non-terminal: it exists (NOERROR/NODATA), because names below it do.
type node struct {
	name     string
	zone     *zone
	rrsets   []rrset
	svc      *service
	glue     bool  // A/AAAA here are nameserver glue
	wildcard *node // the node "*.<name>", if any (RFC 4592)
}

type rrset struct {
	rrtype uint16
	rrs    []dns.RR
}

// service holds what the answer path needs for a steered name beyond
// gslb.Steer itself: its metrics, resolved once.
type service struct {
	name      string
	fallback  prometheus.Counter
	decisions []regionCounter
	vec       *prometheus.CounterVec
}

type regionCounter struct {
	region string
	c      prometheus.Counter
}

func (s *service) decision(region string) prometheus.Counter {
	if region == "" {
		region = labelNone
	}
	for _, rc := range s.decisions {
		if rc.region == region {
			return rc.c
		}
	}
	return s.vec.WithLabelValues(s.name, region) // not reached: every region Steer can pick is listed
}

func (n *node) rrset(t uint16) []dns.RR {
	for i := range n.rrsets {
		if n.rrsets[i].rrtype == t {
			return n.rrsets[i].rrs
		}
	}
	return nil
}

func (n *node) empty() bool { return len(n.rrsets) == 0 && n.svc == nil }

func (n *node) add(rr dns.RR) {
	t := rr.Header().Rrtype
	for i := range n.rrsets {
		if n.rrsets[i].rrtype == t {
			for _, old := range n.rrsets[i].rrs {
				if dns.IsDuplicate(old, rr) {
					return
				}
			}
			n.rrsets[i].rrs = append(n.rrsets[i].rrs, rr)
			return
		}
	}
	n.rrsets = append(n.rrsets, rrset{rrtype: t, rrs: []dns.RR{rr}})
}

func (n *node) remove(t uint16) {
	for i := range n.rrsets {
		if n.rrsets[i].rrtype == t {
			n.rrsets = append(n.rrsets[:i], n.rrsets[i+1:]...)
			return
		}
	}
}

// find returns the node of a canonical name, or else its closest encloser
// (the deepest existing ancestor) with exact false; nil when the name is in
// no zone. It does not allocate.
func (c *compiled) find(name string) (n *node, exact bool) {
	if n := c.names[name]; n != nil {
		return n, true
	}
	for off := 0; ; {
		i, end := dns.NextLabel(name, off)
		if end {
			return nil, false
		}
		if n := c.names[name[i:]]; n != nil {
			return n, false
		}
		off = i
	}
}

func seconds(d time.Duration) uint32 {
	s := d / time.Second
	if s > math.MaxInt32 {
		s = math.MaxInt32
	}
	return uint32(s)
}

// parent returns the name without its first label.
func parent(name string) string {
	i, end := dns.NextLabel(name, 0)
	if end {
		return "."
	}
	return name[i:]
}

// compile builds the answer-path view of snap. It never fails: what it
// cannot serve it drops and lists in problems.
func (s *Server) compile(snap *gslb.Snapshot) *compiled {
	c := &compiled{snap: snap, names: map[string]*node{}, zones: map[string]*zone{}}
	gzones := snap.Zones()
	for _, gz := range gzones {
		c.addZone(gz, uint32(snap.Revision), s.m.zoneCounters(gz.Name))
	}
	// A zone nested in another makes the names between the two apexes
	// empty non-terminals of the outer zone.
	for _, gz := range gzones {
		if outer := c.zoneOf(parent(gz.Name)); outer != nil {
			c.ensure(parent(gz.Name), outer)
			c.zones[gz.Name].parent = outer
		}
	}
	if s.dnssec != nil {
		for _, z := range c.zones {
			if keys := s.dnssec.keys[z.name]; keys != nil {
				z.keys = keys
				for _, rr := range zoneDNSKEYs(keys, z.ttl) {
					z.apex.add(rr)
				}
			}
		}
		for _, z := range c.zones {
			if z.keys != nil && z.parent != nil && z.parent.keys != nil {
				z.ds = zoneDS(z.keys, z.parent.ttl)
			}
		}
	}
	for _, gz := range gzones {
		c.addGlue(gz)
	}
	for _, name := range snap.Services() {
		z := c.zoneOf(name)
		if z == nil {
			continue // the snapshot reports it among its problems
		}
		n := c.ensure(name, z)
		n.svc = s.newService(snap, name)
	}
	for _, gz := range gzones {
		c.addRecords(gz)
	}
	for _, n := range c.names {
		c.resolveConflicts(n)
		normaliseTTLs(n)
		if strings.HasPrefix(n.name, "*.") {
			c.names[parent(n.name)].wildcard = n
		}
	}
	return c
}

// zoneOf returns the compiled zone that holds a canonical name: the most
// specific one, as gslb.Snapshot.FindZone decides.
func (c *compiled) zoneOf(name string) *zone {
	gz := c.snap.FindZone(name)
	if gz == nil {
		return nil
	}
	return c.zones[gz.Name]
}

// ensure returns the node of name in zone z, creating it and any missing
// ancestors up to the apex as empty non-terminals.
func (c *compiled) ensure(name string, z *zone) *node {
	if n := c.names[name]; n != nil {
		return n
	}
	n := &node{name: name, zone: z}
	c.names[name] = n
	if name != z.name {
		c.ensure(parent(name), z)
	}
	return n
}

func (c *compiled) addZone(gz *gslb.Zone, serial uint32, counters *zoneCounters) {
	ttl := seconds(gz.TTL.D())
	soa := &dns.SOA{
		Hdr:     dns.RR_Header{Name: gz.Name, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns:      gz.SOA.MName,
		Mbox:    gz.SOA.RName,
		Serial:  serial,
		Refresh: seconds(gz.SOA.Refresh.D()),
		Retry:   seconds(gz.SOA.Retry.D()),
		Expire:  seconds(gz.SOA.Expire.D()),
		Minttl:  seconds(gz.SOA.Minimum.D()),
	}
	neg := dns.Copy(soa)
	neg.Header().Ttl = min(ttl, soa.Minttl)
	z := &zone{
		name: gz.Name, ttl: ttl, negSOA: neg, counters: counters,
		// RFC 8482 §4.2: the synthesised HINFO that answers ANY.
		hinfo: &dns.HINFO{Hdr: dns.RR_Header{Name: gz.Name, Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: ttl}, Cpu: "RFC8482"},
	}
	c.zones[gz.Name] = z
	z.apex = c.ensure(gz.Name, z)
	z.apex.add(soa)
	for _, ns := range gz.Nameservers {
		z.apex.add(&dns.NS{Hdr: dns.RR_Header{Name: gz.Name, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: ttl}, Ns: ns.Name})
	}
}

// addGlue puts the addresses of the zone's nameservers at their names, so
// that they answer A/AAAA, and in the zone's glue for NS answers when they
// are inside the zone. A nameserver inside another of our zones answers
// there; its addresses are not glue for this zone (RFC 9471 requires
// in-domain glue only).
func (c *compiled) addGlue(gz *gslb.Zone) {
	z := c.zones[gz.Name]
	for _, ns := range gz.Nameservers {
		home := c.zoneOf(ns.Name)
		if home == nil {
			continue
		}
		n := c.ensure(ns.Name, home)
		n.glue = true
		for _, a := range ns.IPv4 {
			rr := addrRR(ns.Name, a, home.ttl)
			n.add(rr)
			if home == z {
				z.glue = append(z.glue, rr)
			}
		}
		for _, a := range ns.IPv6 {
			rr := addrRR(ns.Name, a, home.ttl)
			n.add(rr)
			if home == z {
				z.glue = append(z.glue, rr)
			}
		}
	}
	// A before AAAA, as resolvers that truncate look for A first.
	var a, aaaa []dns.RR
	for _, rr := range z.glue {
		if rr.Header().Rrtype == dns.TypeA {
			a = append(a, rr)
		} else {
			aaaa = append(aaaa, rr)
		}
	}
	z.glue = append(a, aaaa...)
}

func addrRR(name string, a netip.Addr, ttl uint32) dns.RR {
	h := dns.RR_Header{Name: name, Class: dns.ClassINET, Ttl: ttl}
	if a.Is4() {
		h.Rrtype = dns.TypeA
		return &dns.A{Hdr: h, A: a.AsSlice()}
	}
	h.Rrtype = dns.TypeAAAA
	return &dns.AAAA{Hdr: h, AAAA: a.AsSlice()}
}

func (c *compiled) addRecords(gz *gslb.Zone) {
	z := c.zones[gz.Name]
	for _, text := range gz.Records {
		rr, err := parseRecord(gz.Name, text, z.ttl)
		if err != nil {
			c.problems = append(c.problems, problem{gz.Name, text, err.Error()})
			continue
		}
		h := rr.Header()
		h.Name = strings.ToLower(h.Name)
		if cn, ok := rr.(*dns.CNAME); ok {
			// Lower case once here so that chasing needs no ToLower.
			cn.Target = strings.ToLower(cn.Target)
		}
		if home := c.zoneOf(h.Name); home != z && home != nil {
			c.problems = append(c.problems, problem{gz.Name, text, fmt.Sprintf("%s belongs to the more specific zone %s", h.Name, home.name)})
			continue
		}
		n := c.ensure(h.Name, z)
		if h.Rrtype == dns.TypeA || h.Rrtype == dns.TypeAAAA {
			switch {
			case n.svc != nil:
				c.problems = append(c.problems, problem{gz.Name, text, h.Name + " is a service: its A and AAAA answers come from steering"})
				continue
			case n.glue:
				c.problems = append(c.problems, problem{gz.Name, text, h.Name + " is a nameserver: its A and AAAA answers come from the zone's nameservers"})
				continue
			}
		}
		n.add(rr)
	}
}

// resolveConflicts enforces RFC 1034 §3.6.2 (a CNAME is alone at its
// name): a CNAME sharing its name with other data or a service is dropped,
// since the other data is served either way.
func (c *compiled) resolveConflicts(n *node) {
	cn := n.rrset(dns.TypeCNAME)
	if cn == nil {
		return
	}
	switch {
	case n.svc != nil:
		c.dropCNAME(n, "is a service")
	case len(n.rrsets) > 1:
		c.dropCNAME(n, "has other records")
	case len(cn) > 1:
		for _, rr := range cn[1:] {
			c.problems = append(c.problems, problem{n.zone.name, rr.String(), "a name has at most one CNAME; the first is served"})
		}
		n.rrsets[0].rrs = cn[:1]
	}
}

func (c *compiled) dropCNAME(n *node, why string) {
	for _, rr := range n.rrset(dns.TypeCNAME) {
		c.problems = append(c.problems, problem{n.zone.name, rr.String(), "CNAME dropped: " + n.name + " " + why + " (RFC 1034 §3.6.2)"})
	}
	n.remove(dns.TypeCNAME)
}

// normaliseTTLs gives every RR of an RRset the lowest TTL among them, as
// RFC 2181 §5.2 wants one TTL per RRset.
func normaliseTTLs(n *node) {
	for _, set := range n.rrsets {
		lo := set.rrs[0].Header().Ttl
		for _, rr := range set.rrs[1:] {
			lo = min(lo, rr.Header().Ttl)
		}
		for _, rr := range set.rrs {
			rr.Header().Ttl = lo
		}
	}
}

func (s *Server) newService(snap *gslb.Snapshot, name string) *service {
	svc := &service{name: name, vec: s.m.decisions, fallback: s.m.fallback.WithLabelValues(name)}
	seen := map[string]bool{}
	addRegion := func(r string) {
		if seen[r] {
			return
		}
		seen[r] = true
		svc.decisions = append(svc.decisions, regionCounter{r, s.m.decisions.WithLabelValues(name, r)})
	}
	if gs := snap.Service(name); gs != nil {
		for _, r := range gs.Regions {
			addRegion(r)
		}
		for _, o := range gs.Overrides {
			for _, r := range o.Regions {
				addRegion(r)
			}
		}
	}
	addRegion(labelNone)
	return svc
}

// ErrRecord is wrapped by every error from CheckRecord.
var ErrRecord = errors.New("dnsserver: bad record")

// CheckRecord checks one static record in zone-file syntax for the zone
// origin, as gslb.Validators.Record: relative names are relative to origin
// and a record without a TTL gets a default (the zone's TTL when served).
// It rejects what the server cannot serve correctly: more or fewer than one
// record, zone-file directives, classes other than IN, names outside the
// zone, the SOA (generated from the zone's soa settings and the etcd
// revision), NS records (they come from the zone's nameservers; delegations
// below the apex are not supported), DNAME, DNSSEC records (the signer
// makes them from the keys), meta types, a CNAME at the apex and records
// that do not pack.
func CheckRecord(origin, text string) error {
	origin = strings.ToLower(dns.Fqdn(origin))
	_, err := parseRecord(origin, text, uint32(gslb.DefaultZoneTTL/time.Second))
	return err
}

func parseRecord(origin, text string, defaultTTL uint32) (dns.RR, error) {
	for line := range strings.SplitSeq(text, "\n") {
		if strings.HasPrefix(strings.TrimLeft(line, " \t"), "$") {
			return nil, fmt.Errorf("%w %q: zone-file directives ($ORIGIN, $TTL, $INCLUDE, $GENERATE) are not allowed", ErrRecord, text)
		}
	}
	zp := dns.NewZoneParser(strings.NewReader(text), origin, "")
	zp.SetDefaultTTL(defaultTTL)
	rr, ok := zp.Next()
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("%w %q: %s", ErrRecord, text, strings.TrimPrefix(err.Error(), "dns: "))
	}
	if !ok {
		return nil, fmt.Errorf("%w %q: no record", ErrRecord, text)
	}
	if _, more := zp.Next(); more {
		return nil, fmt.Errorf("%w %q: more than one record (give each its own string)", ErrRecord, text)
	}
	if err := checkServable(origin, rr); err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrRecord, text, err)
	}
	return rr, nil
}

func checkServable(origin string, rr dns.RR) error {
	h := rr.Header()
	owner := strings.ToLower(h.Name)
	if h.Class != dns.ClassINET {
		return fmt.Errorf("class %s: only IN is served", dns.ClassToString[h.Class])
	}
	if !gslb.InZone(owner, origin) {
		return fmt.Errorf("%s is outside the zone %s", owner, origin)
	}
	// RFC 2181 §8: TTLs are 31-bit.
	if h.Ttl > math.MaxInt32 {
		return fmt.Errorf("TTL %d is above 2^31-1", h.Ttl)
	}
	if i := strings.Index(owner, "*"); i > 0 || i == 0 && !strings.HasPrefix(owner, "*.") || i >= 0 && strings.Count(owner, "*") > 1 {
		return fmt.Errorf("%s: a wildcard is a single '*' as the first label (RFC 4592)", owner)
	}
	switch h.Rrtype {
	case dns.TypeSOA:
		return errors.New("the SOA is generated from the zone's soa settings (its serial is the etcd revision)")
	case dns.TypeNS:
		if owner == origin {
			return errors.New("NS records at the apex come from the zone's nameservers")
		}
		return errors.New("delegations (NS below the apex) are not supported")
	case dns.TypeDNAME:
		return errors.New("DNAME is not supported")
	case dns.TypeDS, dns.TypeDNSKEY, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3, dns.TypeNSEC3PARAM,
		dns.TypeCDS, dns.TypeCDNSKEY, dns.TypeKEY, dns.TypeSIG, dns.TypeNXT:
		return fmt.Errorf("%s: DNSSEC records are not configured: the server makes them when the zone has a key (--dnssec-keys)", dns.TypeToString[h.Rrtype])
	case dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY, dns.TypeANY, dns.TypeAXFR, dns.TypeIXFR,
		dns.TypeMAILA, dns.TypeMAILB, dns.TypeNone, dns.TypeReserved:
		return fmt.Errorf("%s is a meta type, not data", dns.TypeToString[h.Rrtype])
	case dns.TypeCNAME:
		if owner == origin {
			return errors.New("a CNAME at the apex would hide the SOA and NS records (RFC 1034 §3.6.2)")
		}
	}
	buf := make([]byte, dns.Len(rr)+1)
	if _, err := dns.PackRR(rr, buf, 0, nil, false); err != nil {
		return fmt.Errorf("does not pack: %w", err)
	}
	return nil
}
