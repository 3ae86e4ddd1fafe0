package dnsserver

import (
	"encoding/binary"

	"github.com/miekg/dns"
)

// queryParser parses the common shape of a query without allocating: one
// question with a plain name, nothing in the answer and authority
// sections, at most an OPT record carrying ECS and an empty NSID option.
// That is nearly every query a resolver sends us; miekg/dns's Unpack
// spends six allocations on it (the name, the question slice, the OPT, its
// option slice, the ECS option and its address). Anything else, including
// everything malformed, is left to miekg/dns: parse reports false, and
// the caller unpacks as before. parse_test.go checks that every message
// parse accepts unpacks to the same dns.Msg with miekg/dns.
//
// A queryParser is owned by one goroutine; the message it returns is
// valid until the next parse.
type queryParser struct {
	msg   dns.Msg
	q     [1]dns.Question
	extra [1]dns.RR
	opt   dns.OPT
	opts  [2]dns.EDNS0
	ecs   dns.EDNS0_SUBNET
	nsid  dns.EDNS0_NSID
	addr  [16]byte

	name  [maxPresentation]byte // presentation form of the name being parsed
	names map[string]string     // interned question names, bounded by maxInterned
}

// maxInterned bounds the interned names: a GSLB zone is asked for a few
// names, a random-name flood for many, and then the map is cleared and
// those queries allocate their name as miekg/dns would.
const maxInterned = 1024

// maxPresentation is the longest name in presentation form (without
// escapes) that fits the 255 octets of a name on the wire.
const maxPresentation = 254

func (p *queryParser) parse(b []byte) (*dns.Msg, bool) {
	if len(b) < 12 {
		return nil, false
	}
	qd := binary.BigEndian.Uint16(b[4:])
	an := binary.BigEndian.Uint16(b[6:])
	ns := binary.BigEndian.Uint16(b[8:])
	ar := binary.BigEndian.Uint16(b[10:])
	if qd != 1 || an != 0 || ns != 0 || ar > 1 {
		return nil, false
	}
	name, off, ok := p.parseName(b, 12)
	if !ok || off+4 > len(b) {
		return nil, false
	}
	m := &p.msg
	*m = dns.Msg{}
	bits := binary.BigEndian.Uint16(b[2:])
	m.Id = binary.BigEndian.Uint16(b)
	m.Response = bits&(1<<15) != 0
	m.Opcode = int(bits>>11) & 0xf
	m.Authoritative = bits&(1<<10) != 0
	m.Truncated = bits&(1<<9) != 0
	m.RecursionDesired = bits&(1<<8) != 0
	m.RecursionAvailable = bits&(1<<7) != 0
	m.Zero = bits&(1<<6) != 0
	m.AuthenticatedData = bits&(1<<5) != 0
	m.CheckingDisabled = bits&(1<<4) != 0
	m.Rcode = int(bits & 0xf)
	p.q[0] = dns.Question{Name: name, Qtype: binary.BigEndian.Uint16(b[off:]), Qclass: binary.BigEndian.Uint16(b[off+2:])}
	m.Question = p.q[:]
	off += 4
	if ar == 0 {
		// miekg/dns ignores bytes after the last record it was told of;
		// so does this.
		return m, true
	}
	// The OPT record: root owner, type 41, then class, TTL, RDLENGTH.
	if off+11 > len(b) || b[off] != 0 || binary.BigEndian.Uint16(b[off+1:]) != dns.TypeOPT {
		return nil, false
	}
	rdlen := int(binary.BigEndian.Uint16(b[off+9:]))
	rd := off + 11
	if rd+rdlen > len(b) {
		return nil, false
	}
	p.opt = dns.OPT{Hdr: dns.RR_Header{
		Name: ".", Rrtype: dns.TypeOPT,
		Class:    binary.BigEndian.Uint16(b[off+3:]),
		Ttl:      binary.BigEndian.Uint32(b[off+5:]),
		Rdlength: uint16(rdlen),
	}}
	opts := p.opts[:0]
	data := b[rd : rd+rdlen]
	for len(data) > 0 {
		if len(data) < 4 {
			return nil, false
		}
		code := binary.BigEndian.Uint16(data)
		n := int(binary.BigEndian.Uint16(data[2:]))
		if 4+n > len(data) || len(opts) == len(p.opts) {
			return nil, false
		}
		v := data[4 : 4+n]
		switch {
		case code == dns.EDNS0SUBNET && !hasECS(opts):
			if !p.parseECS(v) {
				return nil, false
			}
			opts = append(opts, &p.ecs)
		case code == dns.EDNS0NSID && n == 0 && !hasNSID(opts):
			p.nsid = dns.EDNS0_NSID{} // Code 0, as miekg/dns leaves it
			opts = append(opts, &p.nsid)
		default:
			return nil, false
		}
		data = data[4+n:]
	}
	if len(opts) > 0 {
		p.opt.Option = opts
	}
	p.extra[0] = &p.opt
	m.Extra = p.extra[:]
	m.Rcode |= int(p.opt.Hdr.Ttl>>24) << 4 // the extended rcode, as miekg/dns sets it
	return m, true
}

// parseECS fills p.ecs from an ECS option's data as miekg/dns would, for
// families 1 and 2 with prefixes in range; false for anything else.
func (p *queryParser) parseECS(v []byte) bool {
	if len(v) < 4 {
		return false
	}
	family := binary.BigEndian.Uint16(v)
	src, scope := v[2], v[3]
	var max int
	switch family {
	case 1:
		max = 32
	case 2:
		max = 128
	default:
		return false
	}
	if int(src) > max || int(scope) > max {
		return false
	}
	p.addr = [16]byte{}
	if family == 1 {
		// miekg/dns keeps an IPv4 address in 16-byte form.
		p.addr[10], p.addr[11] = 0xff, 0xff
		copy(p.addr[12:], v[4:])
	} else {
		copy(p.addr[:], v[4:])
	}
	// Code 0, as miekg/dns leaves it (Option() gives the code).
	p.ecs = dns.EDNS0_SUBNET{Family: family, SourceNetmask: src, SourceScope: scope, Address: p.addr[:]}
	return true
}

func hasECS(opts []dns.EDNS0) bool {
	for _, o := range opts {
		if _, ok := o.(*dns.EDNS0_SUBNET); ok {
			return true
		}
	}
	return false
}

func hasNSID(opts []dns.EDNS0) bool {
	for _, o := range opts {
		if _, ok := o.(*dns.EDNS0_NSID); ok {
			return true
		}
	}
	return false
}

// parseName reads an uncompressed name whose labels need no escaping in
// presentation form, and returns it interned.
func (p *queryParser) parseName(b []byte, off int) (string, int, bool) {
	n := 0
	for {
		if off >= len(b) {
			return "", 0, false
		}
		l := int(b[off])
		off++
		if l == 0 {
			break
		}
		if l > 63 || off+l > len(b) || n+l+1 > maxPresentation {
			return "", 0, false // a pointer, or too long: miekg/dns decides
		}
		for _, c := range b[off : off+l] {
			if !plainLabelByte[c] {
				return "", 0, false
			}
		}
		n += copy(p.name[n:], b[off:off+l])
		p.name[n] = '.'
		n++
		off += l
	}
	if n == 0 {
		return ".", off, true
	}
	if s, ok := p.names[string(p.name[:n])]; ok {
		return s, off, true
	}
	if p.names == nil || len(p.names) >= maxInterned {
		p.names = make(map[string]string, 64)
	}
	s := string(p.name[:n])
	p.names[s] = s
	return s, off, true
}

// plainLabelByte: the bytes miekg/dns writes as they are in a name's
// presentation form (not escaped as \. or \DDD).
var plainLabelByte = func() (t [256]bool) {
	for c := 0x21; c < 0x7f; c++ {
		t[c] = true
	}
	for _, c := range `.();@"'\` {
		t[c] = false
	}
	return t
}()
