package dnsserver

import (
	"net/netip"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/gslb"
)

// maxChase bounds how many CNAMEs inside a zone one answer follows
// (RFC 1034 §4.3.2 step 3a); a loop ends here with the chain so far.
const maxChase = 8

// reply holds a response and everything it points to, so that building a
// typical answer is one allocation (or none, from the pool in ServeDNS).
type reply struct {
	msg    dns.Msg
	q      [1]dns.Question
	answer [gslb.MaxAnswers + 2]dns.RR
	ns     [1]dns.RR
	extra  [4]dns.RR
	opt    dns.OPT
	opts   [2]dns.EDNS0
	ecs    dns.EDNS0_SUBNET
	nsid   dns.EDNS0_NSID
	a      [gslb.MaxAnswers]dns.A
	aaaa   [gslb.MaxAnswers]dns.AAAA
	ip     [gslb.MaxAnswers][16]byte
	addrs  [gslb.MaxAnswers]netip.Addr

	// DNSSEC (signReply): the sections with their RRSIGs, the NSEC of a
	// negative answer and its type bitmap.
	signed     [16]dns.RR
	signedUsed int
	nsec       dns.NSEC
	bitmap     [16]uint16
}

// query is what resolve learned about a request.
type query struct {
	req    *dns.Msg
	proto  string
	remote netip.Addr

	edns       bool
	clientSize int // the client's UDP payload size, at least 512
	nsid       bool
	do         bool // DNSSEC OK (RFC 3225)

	ecs      *dns.EDNS0_SUBNET // valid ECS option of the request, nil if none
	ecsBad   bool              // an ECS option was malformed: FORMERR, no echo
	client   netip.Addr        // address that decides location
	srcBits  int               // ECS source bits used (clipped), -1 without usable ECS
	maxScope int               // the longest source prefix honoured for the ECS family
	scope    int               // ECS scope to answer with

	zone *zone    // the zone that answers, nil outside every zone
	neg  negative // what a negative answer denies, for its NSEC
}

// Resolve answers one query. It holds all of the server's DNS behaviour;
// ServeDNS only adds the transport. remote is the address the query came
// from (the resolver) and proto is "udp" or "tcp": it decides the size
// limit, and UDP answers that do not fit are truncated. A nil result means
// send nothing (the request is a response, or nil).
//
// The returned message belongs to the caller.
func (s *Server) Resolve(req *dns.Msg, remote netip.AddrPort, proto string) *dns.Msg {
	return s.resolve(req, remote, proto, new(reply))
}

func (s *Server) resolve(req *dns.Msg, remote netip.AddrPort, proto string, r *reply) *dns.Msg {
	// Never answer a response: two servers would bounce it forever.
	if req == nil || req.Response {
		return nil
	}
	if proto != protoTCP {
		proto = protoUDP
	}
	m := &r.msg
	m.Id = req.Id
	m.Response = true
	m.Opcode = req.Opcode
	m.RecursionDesired = req.RecursionDesired
	m.CheckingDisabled = req.CheckingDisabled
	m.Answer = r.answer[:0]
	m.Ns = r.ns[:0]
	m.Extra = r.extra[:0]
	var qtype uint16
	if len(req.Question) == 1 {
		r.q[0] = req.Question[0]
		m.Question = r.q[:]
		qtype = r.q[0].Qtype
	}

	q := query{req: req, proto: proto, remote: remote.Addr().Unmap(), srcBits: -1}
	rcode, zc := s.process(r, &q)
	// Signed answers only for DO queries (RFC 4035 §3.1), only for zones
	// with a key; everything else is exactly what it was without DNSSEC.
	signed := q.do && q.zone != nil && q.zone.keys != nil
	if signed && (rcode == dns.RcodeSuccess || rcode == dns.RcodeNameError) {
		rcode = s.signReply(r, &q, rcode)
	}
	m.Rcode = rcode

	if q.edns {
		r.opt.Hdr = dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: uint16(s.udpSize)}
		if q.do {
			r.opt.SetDo() // RFC 3225 §3: the DO bit of the query MUST be copied
		}
		opts := r.opts[:0]
		if q.ecs != nil && !q.ecsBad {
			r.ecs = dns.EDNS0_SUBNET{
				Code: dns.EDNS0SUBNET, Family: q.ecs.Family, SourceNetmask: q.ecs.SourceNetmask,
				SourceScope: uint8(q.scope), Address: q.ecs.Address,
			}
			opts = append(opts, &r.ecs)
		}
		if q.nsid && s.nsid != "" {
			r.nsid = dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: s.nsid}
			opts = append(opts, &r.nsid)
		}
		r.opt.Option = opts
		m.Extra = append(m.Extra, &r.opt)
	}

	// RFC 1035 §4.2.1 and RFC 6891 §6.2.5: 512 bytes over UDP without
	// EDNS, else what the client can take, within what we are willing to
	// send. Over TCP only the 16-bit length limits us.
	limit := dns.MaxMsgSize
	if proto == protoUDP {
		limit = dns.MinMsgSize
		if q.edns {
			limit = min(q.clientSize, s.udpSize)
		}
	}
	if uncompressedLen(m) <= limit {
		m.Compress = false // what Truncate would decide, without its length pass
	} else {
		m.Truncate(limit)
	}
	if m.Truncated {
		s.m.truncated.Inc()
	}
	zc.inc(qtype, rcode, proto)
	return m
}

// process fills the reply's sections and returns the rcode and the zone
// the query is counted under.
func (s *Server) process(r *reply, q *query) (int, *zoneCounters) {
	req, m := q.req, &r.msg
	none := s.m.none
	if rc := s.parseEDNS(q); rc != dns.RcodeSuccess {
		return rc, none
	}
	if req.Opcode != dns.OpcodeQuery {
		return dns.RcodeNotImplemented, none
	}
	if len(req.Question) != 1 {
		return dns.RcodeFormatError, none
	}
	if q.ecsBad {
		return dns.RcodeFormatError, none
	}
	qs := &req.Question[0]
	switch qs.Qclass {
	case dns.ClassINET, dns.ClassANY:
	case dns.ClassCHAOS:
		return s.chaos(r, qs), none
	default:
		return dns.RcodeRefused, none
	}
	if qs.Qtype == dns.TypeOPT {
		return dns.RcodeFormatError, none // RFC 6891 §6.1.1: OPT is not a type one asks for
	}
	snap := s.snapshot()
	if snap == nil {
		return dns.RcodeServerFailure, none // not ready: no snapshot yet
	}
	c := s.compiledFor(snap)
	name := lowerName(qs.Name)
	n, exact := c.find(name)
	if n == nil {
		// Not ours: no recursion, no referral to the root (RFC 8906 §3.1.4).
		return dns.RcodeRefused, none
	}
	zc := n.zone.counters
	switch qs.Qtype {
	case dns.TypeAXFR, dns.TypeIXFR:
		return dns.RcodeRefused, zc // zone transfer: secondaries read etcd, not AXFR
	}
	m.Authoritative = true
	q.zone = n.zone
	if p := n.zone.parent; qs.Qtype == dns.TypeDS && exact && n == n.zone.apex && p != nil && p.keys != nil {
		return s.parentDS(r, q, n), zc
	}
	return s.lookup(r, q, c, n, exact, name, qs.Qtype), zc
}

// parentDS answers DS at the apex of a zone nested in a signed zone that
// we also serve from the parent, as RFC 4035 §3.1.4.1 requires: DS lives
// on the parent side of the cut. The child's DS when it is signed, else
// NODATA, which the NSEC (NS, no DS) turns into proof that it is not.
func (s *Server) parentDS(r *reply, q *query, n *node) int {
	m, p := &r.msg, n.zone.parent
	q.zone = p
	if ds := n.zone.ds; ds != nil {
		m.Answer = append(m.Answer, ds...)
		return dns.RcodeSuccess
	}
	m.Ns = append(m.Ns, p.negSOA)
	q.neg = negative{kind: negDelegation, name: n.name}
	return dns.RcodeSuccess
}

// lookup answers a name inside a zone: RFC 1034 §4.3.2 for one zone, with
// CNAMEs followed within the zone, RFC 4592 wildcards, RFC 2308 negative
// answers and RFC 8482 minimal ANY.
func (s *Server) lookup(r *reply, q *query, c *compiled, n *node, exact bool, name string, qtype uint16) int {
	m := &r.msg
	z := n.zone
	for hops := 0; ; hops++ {
		owner := "" // set when the answer is synthesised from a wildcard
		if !exact {
			if n.wildcard == nil {
				m.Ns = append(m.Ns, z.negSOA)
				q.neg = negative{kind: negNXDomain, name: name}
				return dns.RcodeNameError
			}
			n, owner = n.wildcard, name
		}
		if cn := n.rrset(dns.TypeCNAME); cn != nil && qtype != dns.TypeCNAME {
			appendRRs(&m.Answer, cn, owner)
			target := cn[0].(*dns.CNAME).Target
			if qtype == dns.TypeANY || hops == maxChase {
				return dns.RcodeSuccess
			}
			tn, texact := c.find(target)
			if tn == nil || tn.zone != z {
				return dns.RcodeSuccess // the resolver follows it from here
			}
			n, exact, name = tn, texact, target
			continue
		}
		switch {
		case n.svc != nil && (qtype == dns.TypeA || qtype == dns.TypeAAAA || qtype == dns.TypeANY):
			return s.steer(r, q, c, n, qtype)
		case qtype == dns.TypeANY:
			// RFC 8482: one RRset, never the whole name. The A RRset if
			// there is one, else a synthesised HINFO; a name with no data
			// at all is NODATA.
			if a := n.rrset(dns.TypeA); a != nil {
				appendRRs(&m.Answer, a, owner)
				return dns.RcodeSuccess
			}
			if n.empty() {
				m.Ns = append(m.Ns, z.negSOA)
				q.neg = negative{kind: negNoData, name: orDefault(owner, n.name), node: n}
				return dns.RcodeSuccess
			}
			appendRRs(&m.Answer, []dns.RR{z.hinfo}, orDefault(owner, n.name))
			return dns.RcodeSuccess
		}
		rrs := n.rrset(qtype)
		if rrs == nil {
			m.Ns = append(m.Ns, z.negSOA)
			q.neg = negative{kind: negNoData, name: orDefault(owner, n.name), node: n}
			return dns.RcodeSuccess
		}
		appendRRs(&m.Answer, rrs, owner)
		if qtype == dns.TypeNS && n == z.apex {
			m.Extra = append(m.Extra, z.glue...)
		}
		return dns.RcodeSuccess
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// appendRRs appends rrs, renamed to owner when it is not "" (wildcard
// synthesis and the shared HINFO), which copies them.
func appendRRs(dst *[]dns.RR, rrs []dns.RR, owner string) {
	if owner == "" || owner == rrs[0].Header().Name {
		*dst = append(*dst, rrs...)
		return
	}
	for _, rr := range rrs {
		cp := dns.Copy(rr)
		cp.Header().Name = owner
		*dst = append(*dst, cp)
	}
}

// steer answers A, AAAA or ANY at a service name from gslb.Steer.
func (s *Server) steer(r *reply, q *query, c *compiled, n *node, qtype uint16) int {
	m := &r.msg
	d, err := gslb.Steer(c.snap, gslb.Query{
		Name:       n.name,
		IPv6:       qtype == dns.TypeAAAA,
		Client:     q.client,
		SourceBits: q.srcBits,
		Geo:        s.geo,
		// The query ID is random per query (RFC 5452), which is all a
		// rotation seed needs, and keeps Steer free of a random source.
		Seed: uint32(q.req.Id),
		Buf:  r.addrs[:0],
	})
	if err != nil {
		return dns.RcodeServerFailure // not reached: the node came from this snapshot's services
	}
	n.svc.decision(d.Region).Inc()
	if d.Fallback {
		n.svc.fallback.Inc()
	}
	if q.srcBits >= 0 {
		// Never claim more than we looked at: a longer scope would tell the
		// resolver to come back with a longer source prefix, which we would
		// clip again.
		q.scope = min(d.Scope, q.maxScope)
	}
	if len(d.Addrs) == 0 {
		if qtype == dns.TypeANY {
			appendRRs(&m.Answer, []dns.RR{n.zone.hinfo}, n.name)
			return dns.RcodeSuccess
		}
		m.Ns = append(m.Ns, n.zone.negSOA)
		q.neg = negative{kind: negNoData, name: n.name, node: n}
		return dns.RcodeSuccess
	}
	ttl := seconds(d.TTL)
	for i, a := range d.Addrs {
		if i >= len(r.a) {
			break
		}
		h := dns.RR_Header{Name: n.name, Class: dns.ClassINET, Ttl: ttl}
		if a.Is4() {
			h.Rrtype = dns.TypeA
			b := a.As4()
			copy(r.ip[i][:], b[:])
			r.a[i] = dns.A{Hdr: h, A: r.ip[i][:4]}
			m.Answer = append(m.Answer, &r.a[i])
		} else {
			h.Rrtype = dns.TypeAAAA
			r.ip[i] = a.As16()
			r.aaaa[i] = dns.AAAA{Hdr: h, AAAA: r.ip[i][:]}
			m.Answer = append(m.Answer, &r.aaaa[i])
		}
	}
	return dns.RcodeSuccess
}

// chaos answers the CHAOS-class names that identify a server
// ("id.server", RFC 4892; "hostname.bind") with the NSID, when one is set.
// Everything else in CHAOS is refused, version.bind included.
func (s *Server) chaos(r *reply, qs *dns.Question) int {
	if s.nsidText == "" || qs.Qtype != dns.TypeTXT {
		return dns.RcodeRefused
	}
	switch lowerName(qs.Name) {
	case "id.server.", "hostname.bind.":
	default:
		return dns.RcodeRefused
	}
	r.msg.Authoritative = true
	r.msg.Answer = append(r.msg.Answer, &dns.TXT{
		Hdr: dns.RR_Header{Name: qs.Name, Rrtype: dns.TypeTXT, Class: dns.ClassCHAOS},
		Txt: []string{s.nsidText},
	})
	return dns.RcodeSuccess
}

// parseEDNS reads the request's OPT record (RFC 6891) and ECS option
// (RFC 7871). It returns an rcode other than NOERROR when the OPT record
// itself is unacceptable; a malformed ECS option only sets q.ecsBad.
func (s *Server) parseEDNS(q *query) int {
	q.client = q.remote
	var opt *dns.OPT
	for _, rr := range q.req.Extra {
		o, ok := rr.(*dns.OPT)
		if !ok {
			continue
		}
		if opt != nil {
			q.edns, q.do = true, o.Do()
			return dns.RcodeFormatError // RFC 6891 §6.1.1: at most one OPT
		}
		opt = o
	}
	if opt == nil {
		return dns.RcodeSuccess
	}
	q.edns = true
	q.do = opt.Do()
	// RFC 6891 §6.2.5: a payload size below 512 means 512.
	q.clientSize = max(int(opt.UDPSize()), dns.MinMsgSize)
	if opt.Hdr.Name != "." {
		return dns.RcodeFormatError // RFC 6891 §6.1.2: the owner is the root
	}
	if opt.Version() != 0 {
		return dns.RcodeBadVers // RFC 6891 §6.1.3
	}
	for _, o := range opt.Option {
		switch e := o.(type) {
		case *dns.EDNS0_NSID:
			q.nsid = true
		case *dns.EDNS0_SUBNET:
			if s.ecs.Disabled {
				continue // ignored, as by a server that does not know it: no echo
			}
			if q.ecs != nil || q.ecsBad {
				q.ecs, q.ecsBad = nil, true // two ECS options: which one?
				continue
			}
			s.parseECS(q, e)
		}
	}
	if q.ecs != nil && !optionLengthsMatch(opt) {
		q.ecs, q.ecsBad = nil, true // address octets not ceil(source/8)
	}
	if q.ecs != nil {
		s.m.ecs.Inc()
	}
	return dns.RcodeSuccess
}

// optionLengthsMatch reports whether the OPT's RDLENGTH is what its
// options take on the wire when each ECS address is exactly
// ceil(SOURCE PREFIX-LENGTH / 8) octets, as RFC 7871 §6 requires (a
// server MUST answer FORMERR otherwise). miekg/dns does not check it: it
// pads a short address with zeros and cuts a long one, and keeps only
// the RDLENGTH from the wire; so the lengths are added up from the parsed
// options. With an option whose wire length its parsed form does not
// tell, the check is skipped (true); so it is for a message built in
// process rather than unpacked (RDLENGTH 0 with options).
func optionLengthsMatch(opt *dns.OPT) bool {
	if opt.Hdr.Rdlength == 0 {
		return true
	}
	n := 0
	for _, o := range opt.Option {
		switch e := o.(type) {
		case *dns.EDNS0_SUBNET:
			n += 4 + 4 + (int(e.SourceNetmask)+7)/8
		case *dns.EDNS0_NSID:
			n += 4 + len(e.Nsid)/2
		case *dns.EDNS0_COOKIE:
			n += 4 + len(e.Cookie)/2
		case *dns.EDNS0_PADDING:
			n += 4 + len(e.Padding)
		case *dns.EDNS0_LOCAL:
			n += 4 + len(e.Data)
		default:
			return true
		}
	}
	return n == int(opt.Hdr.Rdlength)
}

// parseECS validates an ECS option (RFC 7871 §6): family 1 or 2, a source
// prefix no longer than the family's addresses, no address bits set beyond
// it. The location is decided by the address masked to the source prefix,
// clipped to MaxSourceV4/V6 bits; source prefix 0 means "do not use my
// address": the resolver's address decides and the scope is 0.
func (s *Server) parseECS(q *query, e *dns.EDNS0_SUBNET) {
	var addr netip.Addr
	var clip int
	switch e.Family {
	case 1:
		a4 := e.Address.To4()
		if a4 == nil {
			q.ecsBad = true
			return
		}
		addr = netip.AddrFrom4([4]byte(a4))
		clip = s.ecs.MaxSourceV4
	case 2:
		if len(e.Address) != 16 {
			q.ecsBad = true
			return
		}
		addr = netip.AddrFrom16([16]byte(e.Address))
		clip = s.ecs.MaxSourceV6
	default:
		q.ecsBad = true
		return
	}
	src := int(e.SourceNetmask)
	if src > addr.BitLen() {
		q.ecsBad = true
		return
	}
	if p := netip.PrefixFrom(addr, src).Masked(); p.Addr() != addr {
		q.ecsBad = true // address bits beyond the source prefix
		return
	}
	q.ecs = e
	q.maxScope = clip
	if src == 0 {
		return // q.client stays the resolver's address, q.srcBits -1: scope 0
	}
	bits := min(src, clip)
	q.client = netip.PrefixFrom(addr, bits).Masked().Addr()
	q.srcBits = bits
}

// lowerName returns name in lower case (ASCII only: DNS names compare
// case-insensitively in ASCII, RFC 4343), without allocating when it
// already is, the common case.
func lowerName(name string) string {
	for i := 0; i < len(name); i++ {
		if c := name[i]; 'A' <= c && c <= 'Z' {
			b := []byte(name)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return name
}

// snapshot returns the current snapshot.
func (s *Server) snapshot() *gslb.Snapshot { return s.snapshotFn() }

// compiledFor returns the compiled form of snap, compiling it on the first
// query after a swap (unless Prepare did already).
func (s *Server) compiledFor(snap *gslb.Snapshot) *compiled {
	if c := s.cur.Load(); c != nil && c.snap == snap {
		return c
	}
	return s.prepare(snap)
}

// Prepare compiles snap for the answer path now rather than on the first
// query that sees it. The store may call it right before publishing a new
// snapshot; calling it is optional.
func (s *Server) Prepare(snap *gslb.Snapshot) {
	if snap != nil {
		s.prepare(snap)
	}
}

func (s *Server) prepare(snap *gslb.Snapshot) *compiled {
	s.compileMu.Lock()
	defer s.compileMu.Unlock()
	old := s.cur.Load()
	if old != nil && old.snap == snap {
		return old
	}
	start := time.Now()
	c := s.compile(snap)
	if old != nil && old.snap.Revision > snap.Revision {
		// A straggler still reading an older snapshot: answer it, but keep
		// the newer compilation current.
		return c
	}
	s.cur.Store(c)
	s.forgetRemoved(old, c)
	// Snapshots change with every heartbeat; say each problem once, when
	// it appears, not on every swap.
	seen := make(map[problem]bool, len(c.problems))
	for _, p := range c.problems {
		seen[p] = true
		if !s.logged[p] {
			s.log.Warn("static record not served", "zone", p.zone, "record", p.record, "reason", p.reason, "revision", snap.Revision)
		}
	}
	s.logged = seen
	s.log.Debug("snapshot compiled", "revision", snap.Revision, "names", len(c.names), "took", time.Since(start))
	return c
}

// forgetRemoved deletes the metric series of zones and services that old
// had and c has not.
func (s *Server) forgetRemoved(old, c *compiled) {
	if old == nil {
		return
	}
	var zones, services []string
	for name := range old.zones {
		if c.zones[name] == nil {
			zones = append(zones, name)
		}
	}
	for _, name := range old.snap.Services() {
		if c.snap.Service(name) == nil {
			services = append(services, name)
		}
	}
	if len(zones)+len(services) > 0 {
		s.m.forget(zones, services)
	}
}

// uncompressedLen returns the length of m packed without compression, or
// an upper bound of it. dns.Msg.Len and Truncate pack every EDNS option to
// measure it, which allocates; the options we send are measured here.
func uncompressedLen(m *dns.Msg) int {
	l := 12 // header
	for _, q := range m.Question {
		// The presentation form is never shorter than the wire form minus
		// one (escapes only make it longer).
		l += len(q.Name) + 1 + 4
	}
	for _, sec := range [...][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			opt, ok := rr.(*dns.OPT)
			if !ok {
				l += dns.Len(rr)
				continue
			}
			l += 11 // root name, type, class, TTL, RDLENGTH
			for _, o := range opt.Option {
				switch e := o.(type) {
				case *dns.EDNS0_SUBNET:
					l += 4 + 4 + (int(e.SourceNetmask)+7)/8
				case *dns.EDNS0_NSID:
					l += 4 + len(e.Nsid)/2
				default:
					l += dns.Len(rr) // not one of ours: measure it the slow way
				}
			}
		}
	}
	return l
}
