package dnsserver

import (
	"errors"
	"fmt"
	"hash/maphash"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Response rate limiting defaults. They follow BIND's rate-limit clause
// (the ARM's "Response Rate Limiting"), which NSD, Knot and CoreDNS's rrl
// plugin also follow.
const (
	// DefaultRRLRate is how many identical responses per second one client
	// prefix gets before the rest are dropped or slipped. A resolver asks
	// an authoritative server for one name again only when its cache
	// expires: even with the 5 s TTLs of fast failover, a /24 full of
	// independent caches stays far below 20 per second for one name and
	// type, while a reflection attack needs hundreds. BIND's examples use
	// 5 to 20; 20 is the generous end, because a GSLB's low TTLs bring
	// resolvers back often. Limited resolvers are not cut off: slip sends
	// them to TCP, which is never limited.
	DefaultRRLRate = 20
	// DefaultRRLWindow is how far back rates are measured: a key that was
	// flooded stays limited until it has been quiet for up to this long
	// (BIND's default window, 15 s). Longer windows punish a pulsing
	// attack more; shorter ones forgive a burst sooner.
	DefaultRRLWindow = 15 * time.Second
	// DefaultRRLSlip sends every second limited response as an empty
	// reply with TC set, so a legitimate client whose address is being
	// spoofed retries over TCP and gets its answer, while the reflected
	// traffic is halved and no larger than the queries (BIND's default).
	DefaultRRLSlip = 2
	// NoSlip as RRLOptions.Slip drops every limited response (BIND's
	// "slip 0").
	NoSlip = -1
	// DefaultRRLPrefixV4 and DefaultRRLPrefixV6 are the client prefixes
	// that share a bucket (BIND's defaults): an attacker spoofing sources
	// within a victim's /24 (or an ISP's /56 per customer) still hits
	// one bucket.
	DefaultRRLPrefixV4 = 24
	DefaultRRLPrefixV6 = 56
	// DefaultRRLTableSize is the number of buckets: 8 bytes each, 512 KiB
	// in all. A bucket holds state only while its key is ahead of its
	// rate (an idle one is free for reuse without losing anything), so at
	// the default rate a key that got one response holds a bucket for
	// 1/20 s: the table is full only past 65536 × 20 ≈ 1.3 million
	// distinct keys per second, more than one server answers.
	DefaultRRLTableSize = 1 << 16

	maxRRLTableSize = 1 << 24 // 128 MiB: index and tag bits stay disjoint
	maxRRLWindow    = time.Hour
	maxRRLRate      = 1_000_000
	maxRRLSlip      = 10
)

// RRLOptions configure response rate limiting (RRL) of UDP answers, as in
// BIND: responses are counted per key, (client prefix, kind of response,
// name), and past the rate, dropped or "slipped" (answered empty with TC,
// so a real client retries over TCP). TCP answers are never limited: a
// TCP client cannot spoof its address. The zero value enables RRL with
// the defaults.
type RRLOptions struct {
	// Disabled turns RRL off: every answer is sent.
	Disabled bool
	// Rate is responses per second per key for positive answers (keyed by
	// the query name and type), and for every other kind without a rate
	// of its own. Default DefaultRRLRate.
	Rate int
	// NoDataRate (empty answers, keyed by the name), NXDomainRate (keyed
	// by the zone, so random names share one bucket; the NOERROR "black
	// lie" of a signed zone for a name that does not exist counts as
	// NXDOMAIN), ReferralRate (keyed by the delegation) and ErrorRate
	// (REFUSED, FORMERR, SERVFAIL, NOTIMP, BADVERS, keyed by the client
	// prefix alone) override Rate for one kind; 0 means Rate.
	NoDataRate, NXDomainRate, ReferralRate, ErrorRate int
	// Window bounds how far behind its rate a key can fall, and so how
	// long it stays limited after a flood stops. 1s to 1h; default
	// DefaultRRLWindow.
	Window time.Duration
	// Slip: every Slip-th limited response is sent empty with TC set
	// instead of dropped (1: all of them). 0 means DefaultRRLSlip; NoSlip
	// drops them all. At most 10.
	Slip int
	// PrefixV4 and PrefixV6 are the client prefix lengths that share
	// buckets. Defaults DefaultRRLPrefixV4 and DefaultRRLPrefixV6.
	PrefixV4, PrefixV6 int
	// Exempt lists client prefixes never limited: monitoring, the
	// operator's own resolvers, a large ECS resolver whose egress /24
	// legitimately repeats names for many client subnets.
	Exempt []netip.Prefix
	// LimitLoopback rate-limits clients on loopback addresses too. By
	// default they are exempt: a datagram from 127.0.0.0/8 or ::1 cannot
	// come from the network (the kernel drops it as martian), so limiting
	// it protects no one, and would throttle a resolver or front end on
	// the same host as one client (and the tests and dev mode).
	LimitLoopback bool
	// TableSize is the number of buckets (rounded up to a power of two,
	// at least 64). Memory is 8 bytes per bucket, fixed at start. Default
	// DefaultRRLTableSize.
	TableSize int
}

// withDefaults fills zero fields and validates.
func (o RRLOptions) withDefaults() (RRLOptions, error) {
	if o.Rate == 0 {
		o.Rate = DefaultRRLRate
	}
	for _, r := range []*int{&o.NoDataRate, &o.NXDomainRate, &o.ReferralRate, &o.ErrorRate} {
		if *r == 0 {
			*r = o.Rate
		}
	}
	if o.Window == 0 {
		o.Window = DefaultRRLWindow
	}
	if o.Slip == 0 {
		o.Slip = DefaultRRLSlip
	}
	if o.PrefixV4 == 0 {
		o.PrefixV4 = DefaultRRLPrefixV4
	}
	if o.PrefixV6 == 0 {
		o.PrefixV6 = DefaultRRLPrefixV6
	}
	if o.TableSize == 0 {
		o.TableSize = DefaultRRLTableSize
	}
	if o.Disabled {
		return o, nil
	}
	var errs []error
	for _, r := range []struct {
		name string
		v    int
	}{{"Rate", o.Rate}, {"NoDataRate", o.NoDataRate}, {"NXDomainRate", o.NXDomainRate}, {"ReferralRate", o.ReferralRate}, {"ErrorRate", o.ErrorRate}} {
		if r.v < 1 || r.v > maxRRLRate {
			errs = append(errs, fmt.Errorf("dnsserver: Options.RRL.%s %d out of range 1..%d", r.name, r.v, maxRRLRate))
		}
	}
	if o.Window < time.Second || o.Window > maxRRLWindow {
		errs = append(errs, fmt.Errorf("dnsserver: Options.RRL.Window %s out of range 1s..1h", o.Window))
	}
	if o.Slip != NoSlip && (o.Slip < 1 || o.Slip > maxRRLSlip) {
		errs = append(errs, fmt.Errorf("dnsserver: Options.RRL.Slip %d out of range 1..%d (or NoSlip)", o.Slip, maxRRLSlip))
	}
	if o.PrefixV4 < 1 || o.PrefixV4 > 32 {
		errs = append(errs, fmt.Errorf("dnsserver: Options.RRL.PrefixV4 %d out of range 1..32", o.PrefixV4))
	}
	if o.PrefixV6 < 1 || o.PrefixV6 > 128 {
		errs = append(errs, fmt.Errorf("dnsserver: Options.RRL.PrefixV6 %d out of range 1..128", o.PrefixV6))
	}
	if o.TableSize < 0 || o.TableSize > maxRRLTableSize {
		errs = append(errs, fmt.Errorf("dnsserver: Options.RRL.TableSize %d out of range 64..%d", o.TableSize, maxRRLTableSize))
	}
	o.Exempt = slices.Clone(o.Exempt) // masked below: not the caller's slice
	for i, p := range o.Exempt {
		if !p.IsValid() {
			errs = append(errs, fmt.Errorf("dnsserver: Options.RRL.Exempt[%d] is not a valid prefix", i))
			continue
		}
		o.Exempt[i] = p.Masked()
	}
	return o, errors.Join(errs...)
}

// rrlKind is the kind of a response, which decides its rate and what
// else its key holds.
type rrlKind uint8

const (
	kindAnswer rrlKind = iota
	kindNoData
	kindNXDomain
	kindReferral
	kindError
	nKinds
)

var rrlKindLabels = [nKinds]string{"answer", "nodata", "nxdomain", "referral", "error"}

// rrlAction is what happens to a response.
type rrlAction uint8

const (
	rrlSend rrlAction = iota
	rrlDrop
	rrlSlip
)

func (a rrlAction) String() string {
	return [...]string{"send", "drop", "slip"}[a]
}

// The table. Each bucket is one 64-bit word, updated with compare-and-swap
// so that the query path takes no lock:
//
//	bits 63..40  tag: the key's top 24 bits, to tell keys of one set apart
//	bits 39..0   tat: the bucket's "theoretical arrival time" in µs since
//	             the limiter started, modulo 2^40 (12.7 days)
//
// This is the generic cell rate algorithm, which is BIND's balance in
// another form: balance = (now + 1s - tat) / interval. A response moves
// tat one interval (1s/rate) later; it is sent while tat stays within one
// second of now (balance ≥ 0: a fresh key gets a burst of one second's
// worth), limited beyond. Limited responses move tat too, so a flood keeps
// its key limited; tat is never more than 1s + window ahead (the balance
// floor, -window × rate), so a key is forgiven at most one window after
// the flood stops. A bucket whose tat is in the past holds no state: it is
// the same as an empty one, which is what makes eviction cheap.
//
// Buckets are grouped in sets of rrlWays; a key hashes to one set and
// takes its own bucket there, or the one least ahead of now (idle ones
// first). A flood of new keys therefore evicts idle and nearly idle keys,
// never the keys it is being limited on.
const (
	rrlWays    = 4 // 32 bytes: two sets per cache line
	tatBits    = 40
	tatMask    = 1<<tatBits - 1
	burstMicro = int64(time.Second / time.Microsecond)
	rrlSkew    = 10 * burstMicro // see ahead
)

type rrl struct {
	seed     maphash.Seed
	interval [nKinds]int64 // µs per response, by kind
	maxAhead int64         // µs: 1s + window
	slip     uint64        // 0: drop all
	v4, v6   int
	exempt   []netip.Prefix
	loopback bool   // limit loopback clients too
	sets     uint64 // power of two
	table    []atomic.Uint64
	slipN    atomic.Uint64
	epoch    time.Time
}

func newRRL(o RRLOptions) *rrl {
	if o.Disabled {
		return nil
	}
	size := 64
	for size < o.TableSize {
		size <<= 1
	}
	l := &rrl{
		seed:     maphash.MakeSeed(),
		maxAhead: burstMicro + o.Window.Microseconds(),
		v4:       o.PrefixV4,
		v6:       o.PrefixV6,
		exempt:   o.Exempt,
		loopback: o.LimitLoopback,
		sets:     uint64(size / rrlWays),
		table:    make([]atomic.Uint64, size),
		epoch:    time.Now(),
	}
	if o.Slip > 0 {
		l.slip = uint64(o.Slip)
	}
	for k, rate := range [nKinds]int{kindAnswer: o.Rate, kindNoData: o.NoDataRate, kindNXDomain: o.NXDomainRate, kindReferral: o.ReferralRate, kindError: o.ErrorRate} {
		l.interval[k] = max(burstMicro/int64(rate), 1)
	}
	return l
}

// micros is t as the table's clock.
func (l *rrl) micros(t time.Time) int64 { return t.Sub(l.epoch).Microseconds() }

// exempted reports whether addr is in an exempt prefix.
func (l *rrl) exempted(addr netip.Addr) bool {
	for _, p := range l.exempt {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// limited charges one response of kind to the bucket of key at time now
// (µs) and reports whether it is over the rate. When another query changed
// the bucket between the load and the swap, it starts over: one of them
// always succeeds, and a flood's queries, all on one bucket, must each be
// counted (failing open there let 4% of a flood through).
func (l *rrl) limited(key uint64, kind rrlKind, now int64) bool {
	set := l.table[(key&(l.sets-1))*rrlWays:][:rrlWays]
	tag := key >> tatBits
	now40 := uint64(now) & tatMask
	for {
		var slot *atomic.Uint64
		var old uint64
		ahead := int64(-1)
		for i := range set {
			w := set[i].Load()
			a := l.ahead(w, now40)
			if w>>tatBits == tag {
				slot, old, ahead = &set[i], w, a
				break
			}
			if slot == nil || a < ahead {
				slot, old, ahead = &set[i], w, a
			}
		}
		if old>>tatBits != tag {
			ahead = 0 // a new key: the evicted bucket's state is not ours
		}
		next := min(ahead+l.interval[kind], l.maxAhead)
		w := tag<<tatBits | (now40+uint64(next))&tatMask
		if slot.CompareAndSwap(old, w) {
			return next > burstMicro
		}
	}
}

// ahead is how far the bucket's tat is ahead of now, in µs: 0 for an idle
// bucket, and for one whose tat wrapped around (idle for days). A live
// bucket is at most maxAhead ahead of the latest query's clock; queries
// are charged a little out of order (each with the time its handler
// started), so an earlier one may see up to the skew more: anything beyond
// maxAhead + rrlSkew is a wrapped-around idle bucket.
func (l *rrl) ahead(w, now40 uint64) int64 {
	d := int64((w-now40)<<(64-tatBits)) >> (64 - tatBits) // signed 40-bit difference
	if d < 0 || d > l.maxAhead+rrlSkew {
		return 0
	}
	return d
}

// action turns a limit decision into what to do with the response.
func (l *rrl) action(limited bool) rrlAction {
	switch {
	case !limited:
		return rrlSend
	case l.slip == 0:
		return rrlDrop
	case l.slipN.Add(1)%l.slip == 0:
		return rrlSlip
	}
	return rrlDrop
}

// busy counts the buckets holding state at now: keys that are ahead of
// their rate. For tests and the table-size figure.
func (l *rrl) busy(now int64) int {
	now40 := uint64(now) & tatMask
	n := 0
	for i := range l.table {
		if l.ahead(l.table[i].Load(), now40) > 0 {
			n++
		}
	}
	return n
}

// key hashes what identifies a response to RRL: the client prefix, the
// kind, and for answers the query type; name (folded to lower case) for
// every kind but errors. wildcard marks a name that is the closest
// encloser of a wildcard answer, so that "*.x" and "x" differ.
func (l *rrl) key(prefix netip.Addr, kind rrlKind, qtype uint16, name string, wildcard bool) uint64 {
	var h maphash.Hash
	h.SetSeed(l.seed)
	a := prefix.As16()
	var hdr [20]byte
	copy(hdr[:], a[:])
	hdr[16] = byte(kind)
	if wildcard {
		hdr[17] = 1
	}
	hdr[18], hdr[19] = byte(qtype>>8), byte(qtype)
	h.Write(hdr[:])
	var buf [64]byte
	for len(name) > 0 {
		n := copy(buf[:], name)
		foldASCII(buf[:n])
		h.Write(buf[:n])
		name = name[n:]
	}
	return h.Sum64()
}

func foldASCII(b []byte) {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
}

// clientPrefix masks addr to the RRL prefix of its family.
func (l *rrl) clientPrefix(addr netip.Addr) netip.Addr {
	bits := l.v6
	if addr.Is4() {
		bits = l.v4
	}
	p, _ := addr.Prefix(bits)
	return p.Addr()
}

// rrlCheck decides what to do with the UDP response m to remote, sent at
// now. It classifies m as BIND does and charges its bucket.
func (s *Server) rrlCheck(m *dns.Msg, remote netip.Addr, now time.Time) rrlAction {
	l := s.rrl
	remote = remote.Unmap()
	if !remote.IsValid() || (remote.IsLoopback() && !l.loopback) || l.exempted(remote) {
		return rrlSend
	}
	kind, name, wildcard := s.classify(m)
	var qtype uint16
	if kind == kindAnswer {
		qtype = m.Question[0].Qtype
	}
	key := l.key(l.clientPrefix(remote), kind, qtype, name, wildcard)
	a := l.action(l.limited(key, kind, l.micros(now)))
	switch a {
	case rrlDrop:
		s.m.rrlDropped[kind].Inc()
	case rrlSlip:
		s.m.rrlSlipped[kind].Inc()
	}
	return a
}

// classify returns the kind of the response and the name its key holds:
// the query name for answers and NODATA (the wildcard's closest encloser
// when the answer was synthesised from one, so random names under a
// wildcard share one bucket, as BIND does), the zone for NXDOMAIN (so do
// random names that do not exist), the delegation for referrals, none for
// errors. A signed answer for a name that does not exist is NOERROR with
// an NSEC black lie (RFC 9824) rather than NXDOMAIN; it is NXDOMAIN here,
// so a random-subdomain flood gets its zone's one NXDOMAIN bucket and rate
// with DO set as without, not NODATA buckets of whatever existing names
// the random labels are put under.
func (s *Server) classify(m *dns.Msg) (kind rrlKind, name string, wildcard bool) {
	switch {
	case len(m.Question) != 1:
		return kindError, "", false
	case m.Rcode == dns.RcodeNameError:
		return kindNXDomain, negativeZone(m), false
	case m.Rcode != dns.RcodeSuccess:
		return kindError, "", false
	}
	if isBlackLie(m) {
		return kindNXDomain, negativeZone(m), false
	}
	if len(m.Answer) == 0 && !m.Authoritative {
		for _, rr := range m.Ns {
			if rr.Header().Rrtype == dns.TypeNS {
				return kindReferral, rr.Header().Name, false
			}
		}
	}
	kind = kindAnswer
	if len(m.Answer) == 0 {
		kind = kindNoData
	}
	name, wildcard = s.imputedName(m.Question[0].Name)
	return kind, name, wildcard
}

// negativeZone is the zone of a negative answer: the owner of the SOA in
// its authority section; for a black lie answered to a query for type
// NSEC, which has no SOA, the signer of the NSEC; else (not sent by this
// server) the query name.
func negativeZone(m *dns.Msg) string {
	for _, rr := range m.Ns {
		if rr.Header().Rrtype == dns.TypeSOA {
			return rr.Header().Name
		}
	}
	for _, rr := range m.Answer {
		if sig, ok := rr.(*dns.RRSIG); ok && sig.TypeCovered == dns.TypeNSEC {
			return sig.SignerName
		}
	}
	return m.Question[0].Name
}

// isBlackLie reports whether m is a black lie (RFC 9824): NOERROR with an
// NSEC at the query name whose type bitmap has NXNAME, in the authority
// section of an empty answer, or as the answer to a query for type NSEC
// (which an unsigned zone answers NXDOMAIN too). NXNAME is a meta-type
// that no name has: it is only in the NSEC of a name that does not exist
// ((*reply).blackLie), never in one that proves NODATA or an empty
// non-terminal.
func isBlackLie(m *dns.Msg) bool {
	q := m.Question[0]
	switch {
	case len(m.Answer) == 0:
		return hasNXName(m.Ns, q.Name)
	case q.Qtype == dns.TypeNSEC:
		return hasNXName(m.Answer, q.Name)
	}
	return false
}

// hasNXName reports whether rrs has an NSEC at name with NXNAME.
func hasNXName(rrs []dns.RR, name string) bool {
	for _, rr := range rrs {
		if nsec, ok := rr.(*dns.NSEC); ok && strings.EqualFold(nsec.Hdr.Name, name) && slices.Contains(nsec.TypeBitMap, dns.TypeNXNAME) {
			return true
		}
	}
	return false
}

// imputedName is qname if it exists in the current compilation, else the
// closest encloser through which a wildcard answered it. The exact lookup,
// the common case, does not allocate.
func (s *Server) imputedName(qname string) (string, bool) {
	c := s.cur.Load()
	if c == nil || len(qname) > 255 {
		return qname, false
	}
	var buf [255]byte
	n := copy(buf[:], qname)
	foldASCII(buf[:n])
	if c.names[string(buf[:n])] != nil {
		return qname, false
	}
	if enc, _ := c.find(lowerName(qname)); enc != nil {
		return enc.name, true
	}
	return qname, false
}

// slipReply turns m into the reply RRL sends instead of a limited one:
// header and question, TC set, no records but the OPT, so that it is no
// larger than the query and a real client retries over TCP.
func slipReply(m *dns.Msg) {
	m.Truncated = true
	m.Answer = m.Answer[:0]
	m.Ns = m.Ns[:0]
	extra := m.Extra[:0]
	for _, rr := range m.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			extra = append(extra, rr)
		}
	}
	m.Extra = extra
}
