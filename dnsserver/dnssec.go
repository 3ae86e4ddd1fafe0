package dnsserver

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// DNSSEC defaults.
const (
	// DefaultSignatureValidity is how long a signature is valid after it
	// is made. A week outlives any TTL we serve and any outage of the
	// signer (there is none: every server signs for itself) many times
	// over; it is also how long an on-path attacker can replay an answer
	// we no longer give (a steered address we have moved away from), so
	// it is not longer.
	DefaultSignatureValidity = 7 * 24 * time.Hour
	// DefaultSignatureCache is how many RRsets' signatures are kept:
	// every static RRset of a large zone, every steered answer of a few
	// hundred services, and the negative answers asked for most. An entry
	// is about 300 bytes.
	DefaultSignatureCache = 10000
	// inceptionSkew backdates inception so that validators whose clocks
	// run up to an hour behind ours accept fresh signatures.
	inceptionSkew = time.Hour
)

// DNSSECOptions configure online signing. The zero value signs nothing.
type DNSSECOptions struct {
	// Keys are the signing keys (LoadKeys): zones with a key are signed
	// for queries with the DO bit, at most two keys per zone (two during a
	// rollover: both sign). Zones without a key are served unsigned.
	Keys []*Key
	// Validity of a signature from the moment it is made. Signatures are
	// made again when less than half of it is left. Default
	// DefaultSignatureValidity; between 1h and 90 days.
	Validity time.Duration
	// CacheSize bounds the number of RRsets whose signatures are cached.
	// Default DefaultSignatureCache.
	CacheSize int
}

// signer holds the keys, the signature cache and the signing metrics. A
// Server without keys has none (nil) and its answers are the same as
// before DNSSEC existed.
type signer struct {
	keys     map[string][]*Key // by canonical zone name
	validity time.Duration
	cache    *sigCache
	now      func() time.Time // time.Now; tests move it
	seed1    maphash.Seed
	seed2    maphash.Seed
	scratch  sync.Pool // *signScratch

	hits, signed, failed prometheus.Counter
	duration             prometheus.Observer
}

// signScratch is what hashing an RRset for the cache key needs: a message
// to pack it with (PackRR would write to the shared records' headers) and
// a buffer.
type signScratch struct {
	msg dns.Msg
	buf []byte
}

// newSigner returns nil when there are no keys: nothing to sign, no
// metrics.
func newSigner(opts DNSSECOptions, reg prometheus.Registerer) (*signer, error) {
	if len(opts.Keys) == 0 {
		return nil, nil
	}
	var errs []error
	if opts.Validity == 0 {
		opts.Validity = DefaultSignatureValidity
	}
	// Below an hour a signature would not outlive ordinary TTLs; above 90
	// days a replayed answer would.
	if opts.Validity < time.Hour || opts.Validity > 90*24*time.Hour {
		errs = append(errs, fmt.Errorf("dnsserver: Options.DNSSEC.Validity %s out of range 1h..2160h", opts.Validity))
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = DefaultSignatureCache
	}
	if opts.CacheSize < 0 {
		errs = append(errs, fmt.Errorf("dnsserver: Options.DNSSEC.CacheSize %d is negative", opts.CacheSize))
	}
	keys := map[string][]*Key{}
	for i, k := range opts.Keys {
		switch {
		case k == nil || k.priv == nil || k.DNSKEY == nil:
			errs = append(errs, fmt.Errorf("dnsserver: Options.DNSSEC.Keys[%d]: not a key from LoadKeys or GenerateKey", i))
			continue
		case slices.ContainsFunc(keys[k.Zone], func(o *Key) bool { return o.tag == k.tag }):
			errs = append(errs, fmt.Errorf("dnsserver: Options.DNSSEC.Keys[%d]: %s given twice", i, k.FileBase()))
			continue
		}
		keys[k.Zone] = append(keys[k.Zone], k)
		if len(keys[k.Zone]) == maxKeysPerZone+1 {
			errs = append(errs, fmt.Errorf("dnsserver: Options.DNSSEC.Keys: more than %d keys for %s", maxKeysPerZone, k.Zone))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	const ns, sub = "meridian", "dns"
	sigs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "dnssec_signatures_total",
		Help: "RRsets given signatures in DNSSEC answers, by result: cache_hit (cached signatures), signed (signed now), error (signing failed, answered SERVFAIL).",
	}, []string{"result"})
	hist := prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: ns, Subsystem: sub, Name: "dnssec_sign_duration_seconds",
		Help: "Time to sign one RRset with every key of its zone (cache misses only).",
		// One ECDSA P-256 signature takes some tens of microseconds; the
		// top buckets catch a starved CPU.
		Buckets: []float64{1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 2.5e-2},
	})
	if reg != nil {
		for _, c := range []prometheus.Collector{sigs, hist} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("dnsserver: register metrics: %w", err)
			}
		}
	}
	sg := &signer{
		keys:     keys,
		validity: opts.Validity,
		cache:    newSigCache(opts.CacheSize),
		now:      time.Now,
		seed1:    maphash.MakeSeed(),
		seed2:    maphash.MakeSeed(),
		hits:     sigs.WithLabelValues("cache_hit"),
		signed:   sigs.WithLabelValues("signed"),
		failed:   sigs.WithLabelValues("error"),
		duration: hist,
	}
	// Room for any RRset we are likely to sign; larger ones grow it.
	sg.scratch.New = func() any { return &signScratch{buf: make([]byte, 0, 4096)} }
	return sg, nil
}

// negKind says what kind of negative answer lookup gave, for the NSEC
// that proves it.
type negKind uint8

const (
	negNone       negKind = iota
	negNoData             // the name exists (node), the type does not; an empty non-terminal has no types
	negNXDomain           // the name does not exist
	negDelegation         // DS asked of the parent of a nested zone that is not signed: no DS
)

// negative is the name a negative answer is about: the last name of a
// CNAME chain, the query name for wildcard expansions.
type negative struct {
	kind negKind
	name string
	node *node // negNoData: the node whose types the NSEC lists (the wildcard for expansions)
}

// signReply adds DNSSEC records to an answer of the signed zone q.zone for
// a query with DO (RFC 4035 §3.1): an RRSIG after every RRset in every
// section, and for negative answers an NSEC "black lie" (RFC 9824,
// formerly draft-valsorda-dnsop-black-lies): an NSEC at the name whose
// next name is its immediate successor \000.<name>, so that it proves
// exactly one name and reveals nothing else of the zone. A name that does
// not exist is answered as one that exists without the type: NOERROR,
// never NXDOMAIN, and the NSEC lists only RRSIG, NSEC and NXNAME. It
// returns the rcode to send.
func (s *Server) signReply(r *reply, q *query, rcode int) int {
	sg, z, m := s.dnssec, q.zone, &r.msg
	qtype := q.req.Question[0].Qtype
	if q.neg.kind != negNone {
		nsec, ok := r.blackLie(q, qtype)
		if !ok {
			s.log.Error("dnssec: no successor for a name at the length limit", "zone", z.name)
			return s.signFailed(r)
		}
		if qtype == dns.TypeNSEC {
			// Asked for the NSEC itself: it is the answer, not a proof
			// (the bitmap says NSEC exists here; NODATA would contradict it).
			m.Answer = append(m.Answer, nsec)
			m.Ns = slices.DeleteFunc(m.Ns, func(rr dns.RR) bool { return rr == z.negSOA || rr.Header().Rrtype == dns.TypeSOA })
		} else {
			m.Ns = append(m.Ns, nsec)
		}
		rcode = dns.RcodeSuccess
	}
	sc := sg.scratch.Get().(*signScratch)
	defer sg.scratch.Put(sc)
	now := sg.now()
	var err error
	if m.Answer, err = sg.signSection(r, sc, z, m.Answer, now); err == nil {
		if m.Ns, err = sg.signSection(r, sc, z, m.Ns, now); err == nil {
			m.Extra, err = sg.signSection(r, sc, z, m.Extra, now)
		}
	}
	if err != nil {
		s.log.Error("dnssec: sign", "zone", z.name, "err", err)
		return s.signFailed(r)
	}
	return rcode
}

// signFailed empties the answer: SERVFAIL, so that the resolver tries
// another server, rather than an answer that cannot validate.
func (s *Server) signFailed(r *reply) int {
	m := &r.msg
	m.Answer, m.Ns, m.Extra = m.Answer[:0], m.Ns[:0], m.Extra[:0]
	m.Authoritative = false
	return dns.RcodeServerFailure
}

// blackLie builds the NSEC for q.neg in r.
func (r *reply) blackLie(q *query, qtype uint16) (*dns.NSEC, bool) {
	z, neg := q.zone, &q.neg
	bm := r.bitmap[:0]
	switch neg.kind {
	case negNXDomain:
		// RFC 9824: NXNAME tells resolvers that understand it the
		// truth (for their logs and metrics); validators ignore a
		// meta-type bit (RFC 4034 §4.1.2).
		bm = append(bm, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNXNAME)
	case negDelegation:
		// The parent side of a zone cut without DS (RFC 4035 §5.2): NS,
		// and no DS, proves the child unsigned.
		bm = append(bm, dns.TypeNS, dns.TypeRRSIG, dns.TypeNSEC)
	case negNoData:
		n := neg.node
		for _, set := range n.rrsets {
			bm = append(bm, set.rrtype)
		}
		if n.svc != nil {
			// Steering answers A and AAAA here, for some clients if not
			// for this one (a family without eligible region is NODATA).
			bm = append(bm, dns.TypeA, dns.TypeAAAA)
		}
		bm = append(bm, dns.TypeRRSIG, dns.TypeNSEC)
		if qtype != dns.TypeNSEC {
			// The asked type is absent by definition (a steered A or AAAA
			// that has no address for this client is absent for it).
			bm = slices.DeleteFunc(bm, func(t uint16) bool { return t == qtype })
		}
		slices.Sort(bm)
		bm = slices.Compact(bm)
	}
	next, ok := successor(neg.name)
	if !ok {
		return nil, false
	}
	r.nsec = dns.NSEC{
		// RFC 9077: the NSEC TTL is that of the negative answer, min(SOA
		// TTL, SOA minimum): the negative SOA's.
		Hdr:        dns.RR_Header{Name: neg.name, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: z.negSOA.Header().Ttl},
		NextDomain: next,
		TypeBitMap: bm,
	}
	return &r.nsec, true
}

// successor returns the name that immediately follows name in canonical
// order (RFC 4034 §6.1), so that an NSEC from name to it covers no other
// name: its first child \000.<name> (RFC 4471). A name too long to
// have a child gets the next longer or greater first label; it is false
// only for a name that has no successor below its parent, which a query
// cannot reach.
func successor(name string) (string, bool) {
	// Presentation is at most one octet shorter than wire form, so this
	// is the fast path for every name short of the 255-octet limit.
	if len(name)+3 <= 255 {
		return "\\000." + name, true
	}
	var buf [256]byte
	n, err := dns.PackDomainName(name, buf[:], 0, nil, false)
	if err != nil {
		return "", false
	}
	if n+2 <= 255 {
		return "\\000." + name, true
	}
	wire := buf[:n]
	first := int(wire[0])
	// "label\000.parent": longer than the first label, smaller than every
	// other greater one.
	if first < 63 && n+1 <= 255 {
		out := make([]byte, 0, n+1)
		out = append(out, byte(first+1))
		out = append(out, wire[1:1+first]...)
		out = append(out, 0)
		out = append(out, wire[1+first:]...)
		return unpackName(out)
	}
	// Else increment the last octet of the first label that can be,
	// dropping 0xff octets (and upper case, which sorts as lower case).
	label := slices.Clone(wire[1 : 1+first])
	for len(label) > 0 {
		c := label[len(label)-1]
		if c == 0xff {
			label = label[:len(label)-1]
			continue
		}
		c++
		if 'A' <= c && c <= 'Z' {
			c = 'Z' + 1
		}
		label[len(label)-1] = c
		out := append([]byte{byte(len(label))}, label...)
		return unpackName(append(out, wire[1+first:]...))
	}
	return "", false
}

func unpackName(wire []byte) (string, bool) {
	s, _, err := dns.UnpackDomainName(wire, 0)
	return s, err == nil
}

// signSection returns sec with the RRSIGs of each RRset after it. RRsets
// are (owner, type) groups, wherever their records are in the section.
func (sg *signer) signSection(r *reply, sc *signScratch, z *zone, sec []dns.RR, now time.Time) ([]dns.RR, error) {
	if len(sec) == 0 {
		return sec, nil
	}
	out := r.sigSlice(len(sec) * (1 + len(z.keys)))
	var placedBuf [64]bool
	var placed []bool
	if len(sec) > len(placedBuf) {
		placed = make([]bool, len(sec))
	} else {
		placed = placedBuf[:len(sec)]
	}
	for i, rr := range sec {
		if placed[i] {
			continue
		}
		h := rr.Header()
		if h.Rrtype == dns.TypeRRSIG || h.Rrtype == dns.TypeOPT {
			out = append(out, rr)
			continue
		}
		j := i + 1
		for j < len(sec) && sameRRset(sec[j].Header(), h) {
			placed[j] = true
			j++
		}
		set := sec[i:j]
		for k := j; k < len(sec); k++ {
			if sameRRset(sec[k].Header(), h) {
				if len(set) == j-i {
					set = slices.Clone(set) // scattered: gather (only a misconfigured zone does this)
				}
				set = append(set, sec[k])
				placed[k] = true
			}
		}
		sigs, err := sg.sigs(sc, z, set, now)
		if err != nil {
			return sec, err
		}
		out = append(out, set...)
		out = append(out, sigs...)
	}
	return out, nil
}

func sameRRset(a, b *dns.RR_Header) bool {
	return a.Rrtype == b.Rrtype && a.Class == b.Class && (a.Name == b.Name || strings.EqualFold(a.Name, b.Name))
}

// sigs returns the RRSIGs of rrset, one per key of z: cached, or made now
// and cached.
func (sg *signer) sigs(sc *signScratch, z *zone, rrset []dns.RR, now time.Time) ([]dns.RR, error) {
	key, err := sg.key(sc, z, rrset)
	if err != nil {
		sg.failed.Inc()
		return nil, err
	}
	unix := now.Unix()
	if sigs := sg.cache.get(&key, unix); sigs != nil {
		sg.hits.Inc()
		return sigs, nil
	}
	start := time.Now()
	sigs, err := sg.sign(z, rrset, now)
	sg.duration.Observe(time.Since(start).Seconds())
	if err != nil {
		sg.failed.Inc()
		return nil, err
	}
	sg.signed.Inc()
	// Made again when half the validity is left: a signature served just
	// before has days to live, far longer than the TTLs it is cached for.
	sg.cache.put(&sigEntry{key: key, sigs: sigs, refresh: unix + int64(sg.validity/time.Second)/2}, unix)
	return sigs, nil
}

// sign makes the RRSIGs of rrset (RFC 4034 §3, RFC 4035 §2.2). The owner
// is taken as it is: a wildcard expansion is signed as the name asked
// for, so that, as with black lies, every name we answer simply exists
// and needs no proof that no closer name does.
func (sg *signer) sign(z *zone, rrset []dns.RR, now time.Time) ([]dns.RR, error) {
	owner := rrset[0].Header().Name
	if strings.HasPrefix(owner, "*") && !strings.HasPrefix(owner, "*.") {
		// (*RRSIG).Sign takes any owner starting with '*' for a wildcard
		// and counts one label less; "*x" is not one. Sign copies named
		// with the '*' escaped: the same name, in wire form.
		rrset = slices.Clone(rrset)
		for i, rr := range rrset {
			rrset[i] = dns.Copy(rr)
			rrset[i].Header().Name = `\042` + owner[1:]
		}
	}
	ttl := rrset[0].Header().Ttl
	incep := uint32(now.Add(-inceptionSkew).Unix())
	expir := uint32(now.Add(sg.validity).Unix())
	sigs := make([]dns.RR, 0, len(z.keys))
	for _, k := range z.keys {
		sig := &dns.RRSIG{
			Hdr:        dns.RR_Header{Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: ttl},
			Algorithm:  k.DNSKEY.Algorithm,
			KeyTag:     k.tag,
			SignerName: z.name,
			OrigTtl:    ttl,
			Inception:  incep,
			Expiration: expir,
		}
		if err := sig.Sign(k.priv, rrset); err != nil {
			return nil, fmt.Errorf("sign %s %s with %s: %w", owner, typeName(rrset[0]), k.FileBase(), err)
		}
		sig.Hdr.Name = owner
		sigs = append(sigs, sig)
	}
	return sigs, nil
}

// key computes the cache key of rrset: the records packed (uncompressed)
// into a scratch message, each hashed, the hashes summed.
func (sg *signer) key(sc *signScratch, z *zone, rrset []dns.RR) (sigKey, error) {
	h := rrset[0].Header()
	k := sigKey{zone: z.name, owner: h.Name, rrtype: h.Rrtype, ttl: h.Ttl}
	sc.msg.Answer = rrset
	out, err := sc.msg.PackBuffer(sc.buf[:cap(sc.buf)])
	sc.msg.Answer = nil
	if err != nil {
		return k, fmt.Errorf("pack %s %s: %w", h.Name, typeName(rrset[0]), err)
	}
	if cap(out) > cap(sc.buf) && cap(out) <= dns.MaxMsgSize+1 {
		sc.buf = out[:0]
	}
	off := 12 // header; no question
	for range rrset {
		start := off
		for out[off] != 0 { // owner name, uncompressed labels
			off += int(out[off]) + 1
		}
		off++
		off += 10 + int(binary.BigEndian.Uint16(out[off+8:])) // type, class, TTL, RDLENGTH, RDATA
		k.h1 += maphash.Bytes(sg.seed1, out[start:off])
		k.h2 += maphash.Bytes(sg.seed2, out[start:off])
	}
	return k, nil
}

// sigSlice returns an empty slice with room for n records, from the
// reply's array while it lasts.
func (r *reply) sigSlice(n int) []dns.RR {
	if free := len(r.signed) - r.signedUsed; n <= free {
		s := r.signed[r.signedUsed : r.signedUsed : r.signedUsed+n]
		r.signedUsed += n
		return s
	}
	return make([]dns.RR, 0, n)
}

// zoneDNSKEYs returns the DNSKEY RRset of a zone, with the zone's TTL.
func zoneDNSKEYs(keys []*Key, ttl uint32) []dns.RR {
	rrs := make([]dns.RR, 0, len(keys))
	for _, k := range keys {
		dk := dns.Copy(k.DNSKEY).(*dns.DNSKEY)
		dk.Hdr.Ttl = ttl
		rrs = append(rrs, dk)
	}
	return rrs
}

// zoneDS returns the DS RRset of a zone for its parent's answers.
func zoneDS(keys []*Key, ttl uint32) []dns.RR {
	rrs := make([]dns.RR, 0, len(keys))
	for _, k := range keys {
		ds := k.DS()
		ds.Hdr.Ttl = ttl
		rrs = append(rrs, ds)
	}
	return rrs
}
