package dnsserver

import (
	"encoding/binary"
	"sync"

	"github.com/miekg/dns"
)

// Over TCP (UDP has its own loop, udp.go, which does this itself), a query
// that miekg/dns cannot unpack (a malformed EDNS option: an ECS family of
// 3, a source prefix of /33) is answered FORMERR by miekg/dns itself,
// before our handler, and without an OPT record. RFC 6891 §7 says
// such a FORMERR MUST carry an OPT: without one, resolvers conclude the
// server has no EDNS and retry without it, losing ECS and DO. invalidFunc
// notes the IDs of unparseable queries that carried an OPT, and
// formerrWriter adds the OPT (and clears AD, which the echoed header would
// otherwise copy) to the FORMERR that miekg/dns writes right after.

// ednsInvalid holds the IDs of unparseable EDNS queries awaiting their
// FORMERR. An entry lives for the microseconds between invalidFunc and the
// write on the same goroutine; two floods of garbage with equal IDs can at
// worst give one FORMERR an OPT it did not need.
type ednsInvalid struct{ m sync.Map }

func (e *ednsInvalid) note(msg []byte) {
	if len(msg) >= 12 && hasOPT(msg) {
		e.m.Store(binary.BigEndian.Uint16(msg), struct{}{})
	}
}

// hasOPT reports whether a raw message has an OPT record in its additional
// section, reading only names and RR headers (the rdata is what failed).
func hasOPT(m []byte) bool {
	qd := int(binary.BigEndian.Uint16(m[4:]))
	rrs := int(binary.BigEndian.Uint16(m[6:])) + int(binary.BigEndian.Uint16(m[8:]))
	ar := int(binary.BigEndian.Uint16(m[10:]))
	off := 12
	var err error
	for range qd {
		if _, off, err = dns.UnpackDomainName(m, off); err != nil || off+4 > len(m) {
			return false
		}
		off += 4
	}
	for i := range rrs + ar {
		if _, off, err = dns.UnpackDomainName(m, off); err != nil || off+10 > len(m) {
			return false
		}
		if i >= rrs && binary.BigEndian.Uint16(m[off:]) == dns.TypeOPT {
			return true
		}
		off += 10 + int(binary.BigEndian.Uint16(m[off+8:]))
	}
	return false
}

// formerrWriter patches the FORMERR that miekg/dns writes for a noted query.
type formerrWriter struct {
	dns.Writer
	pending *ednsInvalid
	udpSize uint16
}

func (w *formerrWriter) Write(b []byte) (int, error) {
	if len(b) >= 12 && b[3]&0x0f == dns.RcodeFormatError && binary.BigEndian.Uint16(b[10:]) == 0 {
		if _, ok := w.pending.m.LoadAndDelete(binary.BigEndian.Uint16(b)); ok {
			out := make([]byte, len(b), len(b)+11)
			copy(out, b)
			out[3] &^= 0x20 // AD: an authoritative server never sets it
			binary.BigEndian.PutUint16(out[10:], 1)
			// Root name, type OPT, class = our UDP size, TTL 0 (version 0,
			// no flags), no options.
			out = append(out, 0, 0, 41, byte(w.udpSize>>8), byte(w.udpSize), 0, 0, 0, 0, 0, 0)
			if _, err := w.Writer.Write(out); err != nil {
				return 0, err
			}
			return len(b), nil
		}
	}
	return w.Writer.Write(b)
}
