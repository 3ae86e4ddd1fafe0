package dnsserver

import (
	"encoding/binary"

	"github.com/miekg/dns"
)

// packReply packs an answer into buf. miekg/dns packs EDNS options through
// an interface whose pack method returns a fresh slice, and measures the
// message by packing them once more: an echoed ECS option costs several
// allocations per answer. Our OPT carries only options we build (ECS and
// NSID), so the message is packed without it and the OPT record appended
// by hand. Anything else (no OPT, an option of another kind) goes through
// miekg/dns unchanged. pack_test.go checks the bytes are miekg/dns's.
func (s *Server) packReply(m *dns.Msg, buf []byte) ([]byte, error) {
	n := len(m.Extra)
	if n == 0 || m.Rcode > 0xf {
		// An extended rcode (BADVERS) lives partly in the OPT: miekg/dns
		// puts it there.
		return m.PackBuffer(buf)
	}
	opt, ok := m.Extra[n-1].(*dns.OPT)
	if !ok || !s.handPackable(opt) {
		return m.PackBuffer(buf)
	}
	m.Extra = m.Extra[:n-1]
	out, err := m.PackBuffer(buf)
	m.Extra = m.Extra[:n]
	if err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint16(out[10:], binary.BigEndian.Uint16(out[10:])+1)
	return s.appendOPT(out, opt), nil
}

// handPackable reports whether appendOPT encodes every option of opt
// exactly as miekg/dns would.
func (s *Server) handPackable(opt *dns.OPT) bool {
	if opt.Hdr.Name != "." {
		return false
	}
	for _, o := range opt.Option {
		switch e := o.(type) {
		case *dns.EDNS0_SUBNET:
			switch e.Family {
			case 1:
				if e.SourceNetmask > 32 || len(e.Address.To4()) != 4 {
					return false
				}
			case 2:
				if e.SourceNetmask > 128 || len(e.Address) != 16 {
					return false
				}
			default:
				return false
			}
		case *dns.EDNS0_NSID:
			if e.Nsid != s.nsid {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// appendOPT appends opt (handPackable) in wire format.
func (s *Server) appendOPT(out []byte, opt *dns.OPT) []byte {
	// Root owner, type, class (the UDP size), TTL (extended rcode,
	// version, flags), then the RDLENGTH, filled in at the end.
	out = append(out, 0, 0, 41)
	out = binary.BigEndian.AppendUint16(out, opt.Hdr.Class)
	out = binary.BigEndian.AppendUint32(out, opt.Hdr.Ttl)
	rdlen := len(out)
	out = append(out, 0, 0)
	for _, o := range opt.Option {
		switch e := o.(type) {
		case *dns.EDNS0_SUBNET:
			addr := e.Address.To16()
			if e.Family == 1 {
				addr = e.Address.To4()
			}
			need := (int(e.SourceNetmask) + 7) / 8
			out = binary.BigEndian.AppendUint16(out, dns.EDNS0SUBNET)
			out = binary.BigEndian.AppendUint16(out, uint16(4+need))
			out = binary.BigEndian.AppendUint16(out, e.Family)
			out = append(out, e.SourceNetmask, e.SourceScope)
			start := len(out)
			out = append(out, addr[:need]...)
			// Bits beyond the source prefix are zero (RFC 7871 §6).
			if rem := int(e.SourceNetmask) % 8; rem != 0 {
				out[start+need-1] &= byte(0xff << (8 - rem))
			}
		case *dns.EDNS0_NSID:
			out = binary.BigEndian.AppendUint16(out, dns.EDNS0NSID)
			out = binary.BigEndian.AppendUint16(out, uint16(len(s.nsidText)))
			out = append(out, s.nsidText...)
		}
	}
	binary.BigEndian.PutUint16(out[rdlen:], uint16(len(out)-rdlen-2))
	return out
}
