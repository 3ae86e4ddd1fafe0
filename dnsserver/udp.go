package dnsserver

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Meridian reads and answers UDP itself rather than through miekg/dns's
// Server (which it keeps for TCP). miekg/dns starts a goroutine per
// packet, whose stack is grown and copied on nearly every query, and
// makes one recvmsg and one sendmsg per query, carrying and re-encoding
// IP_PKTINFO control data even on sockets bound to one address; that was
// about 80% of the server's CPU (docs/benchmarks.md, "What limits
// Meridian's DNS throughput"). Here each socket has a few long-lived
// reader goroutines that read up to udpBatch queries per recvmmsg, answer
// them in place with per-reader buffers, and send the answers with one
// sendmmsg (golang.org/x/net; one message per call off Linux).

const (
	// udpBatch is the most queries read by one recvmmsg and answered by
	// one sendmmsg. recvmmsg returns what is queued, so at low rates a
	// batch is one query and nothing waits for a batch to fill.
	udpBatch = 32
	// udpReadSize is the read buffer per query: queries are small, and a
	// larger one is truncated and answered FORMERR.
	udpReadSize = 4096
)

// batchConn is an ipv4.PacketConn or an ipv6.PacketConn (their Message
// types are the same type).
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// udpListener serves one UDP socket with readers goroutines.
type udpListener struct {
	s       *Server
	pc      net.PacketConn
	conn    batchConn
	pktinfo bool // bound to a wildcard address: answer from the address asked
	stopped atomic.Bool
}

func newUDPListener(s *Server, pc net.PacketConn) (*udpListener, error) {
	u := &udpListener{s: s, pc: pc}
	la, _ := pc.LocalAddr().(*net.UDPAddr)
	if la == nil {
		return nil, errors.New("not a UDP socket")
	}
	if la.IP.To4() != nil {
		u.conn = ipv4.NewPacketConn(pc)
	} else {
		u.conn = ipv6.NewPacketConn(pc)
	}
	if la.IP.IsUnspecified() {
		// A wildcard socket receives for every local address; the answer
		// must come from the one the query was sent to, or the resolver
		// drops it. Ask for the destination of each datagram; on a
		// dual-stack socket IPv4 arrives with either kind of control data.
		u.pktinfo = true
		err6 := ipv6.NewPacketConn(pc).SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true)
		err4 := ipv4.NewPacketConn(pc).SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true)
		if err6 != nil && err4 != nil {
			return nil, err4
		}
	}
	return u, nil
}

// serve runs readers reader goroutines until stop, then returns when
// each has sent the answers of the batch it was working on.
func (u *udpListener) serve(readers int) error {
	var wg sync.WaitGroup
	errc := make(chan error, readers)
	for range readers {
		wg.Go(func() { errc <- newUDPReader(u).run() })
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			return err
		}
	}
	return nil
}

// stop makes every reader return after its current batch: a read
// deadline in the past wakes the blocked ones.
func (u *udpListener) stop() {
	u.stopped.Store(true)
	_ = u.pc.SetReadDeadline(time.Unix(1, 0))
}

// udpReader is one reader goroutine's state, reused for every batch.
type udpReader struct {
	u      *udpListener
	in     []ipv4.Message
	out    []ipv4.Message
	outBuf [][]byte
	p      queryParser // the common queries
	req    dns.Msg     // the others, unpacked by miekg/dns

	// The batch: its arrival, the queries handed to serve, the answers
	// queued. The query being answered is in[cur]; Write queues its answer
	// as out[n].
	start   time.Time
	handled int
	cur     int
	wrote   bool
	n       int
}

func newUDPReader(u *udpListener) *udpReader {
	r := &udpReader{
		u:      u,
		in:     make([]ipv4.Message, udpBatch),
		out:    make([]ipv4.Message, udpBatch),
		outBuf: make([][]byte, udpBatch),
	}
	oobSize := 0
	if u.pktinfo {
		oobSize = max(len(ipv4.NewControlMessage(ipv4.FlagDst|ipv4.FlagInterface)),
			len(ipv6.NewControlMessage(ipv6.FlagDst|ipv6.FlagInterface)))
	}
	for i := range r.in {
		r.in[i].Buffers = [][]byte{make([]byte, udpReadSize)}
		if oobSize > 0 {
			r.in[i].OOB = make([]byte, oobSize)
		}
		r.out[i].Buffers = [][]byte{nil}
		r.outBuf[i] = make([]byte, 0, 512)
	}
	return r
}

func (r *udpReader) run() error {
	for {
		if r.u.stopped.Load() {
			return nil
		}
		for i := range r.in {
			r.in[i].OOB = r.in[i].OOB[:cap(r.in[i].OOB)]
		}
		n, err := r.u.conn.ReadBatch(r.in, 0)
		if err != nil {
			if r.u.stopped.Load() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			// ICMP errors reported on the socket (a resolver's port that
			// went away), ENOBUFS: the next read works.
			r.u.s.m.udpReadErrors.Inc()
			r.u.s.log.Debug("udp read", "err", err)
			time.Sleep(time.Millisecond) // a persistent error must not spin
			continue
		}
		r.n, r.handled = 0, 0
		r.start = time.Now()
		for i := range n {
			r.answer(i)
		}
		r.flush()
		// One clock read per batch, not two per query: each query of the
		// batch took from the batch's arrival to its answers being sent.
		d := time.Since(r.start).Seconds()
		for range r.handled {
			r.u.s.m.duration[0].Observe(d)
		}
	}
}

// answer handles the query in r.in[i], queuing at most one answer.
func (r *udpReader) answer(i int) {
	s := r.u.s
	msg := &r.in[i]
	b := msg.Buffers[0][:msg.N]
	ua, _ := msg.Addr.(*net.UDPAddr)
	if ua == nil {
		return
	}
	r.cur, r.wrote = i, false
	if len(b) < 12 {
		s.m.none.inc(0, dns.RcodeFormatError, protoUDP)
		return // no header to answer: drop, as miekg/dns does
	}
	switch s.accept(b, protoUDP) {
	case dns.MsgIgnore:
		return // a response (FuzzUDPAnswer: also when it is cut off)
	case dns.MsgReject:
		r.headerOnly(b, dns.RcodeFormatError)
		return
	}
	if msg.N == udpReadSize {
		// Cut off by our read buffer: no query is that long.
		s.m.none.inc(0, dns.RcodeFormatError, protoUDP)
		r.headerOnly(b, dns.RcodeFormatError)
		return
	}
	req, ok := r.p.parse(b)
	if !ok {
		req = &r.req
		*req = dns.Msg{}
		if err := req.Unpack(b); err != nil {
			s.m.none.inc(0, dns.RcodeFormatError, protoUDP)
			r.unpackFailed(b, req)
			return
		}
	}
	r.handled++
	s.serve(r, req, protoUDP, ua.AddrPort(), r.start)
}

// headerOnly answers with rcode and the query's ID, opcode and RD, no
// sections: the answer to a query that is not read any further. An OPT
// is added when the query has one (RFC 6891 §7).
func (r *udpReader) headerOnly(b []byte, rcode int) {
	var h [12]byte
	copy(h[:4], b)
	h[2] = 0x80 | b[2]&0x78 // QR, the opcode
	if b[2]&0x78 == 0 {
		h[2] |= b[2] & 0x01 // RD, for QUERY (as SetReply)
		h[3] = b[3] & 0x10  // CD
	}
	h[3] |= byte(rcode)
	out := h[:]
	if len(b) < udpReadSize && hasOPT(b) {
		out = appendBareOPT(out, uint16(r.u.s.udpSize))
	}
	_, _ = r.Write(out)
}

// unpackFailed answers FORMERR to a query that did not unpack: the
// header as SetReply makes it (ID and opcode copied, RD and CD too for
// QUERY), the question when it was read, and an OPT when the query had
// one. (miekg/dns's own FORMERR, still sent over TCP, says opcode QUERY
// whatever the query's was, and has no question.)
func (r *udpReader) unpackFailed(b []byte, req *dns.Msg) {
	fail := new(dns.Msg)
	fail.SetReply(req)
	fail.Rcode = dns.RcodeFormatError
	out, err := fail.Pack()
	if err != nil {
		r.headerOnly(b, dns.RcodeFormatError)
		return
	}
	if hasOPT(b) {
		out[3] &^= 0x20 // AD
		out = appendBareOPT(out, uint16(r.u.s.udpSize))
	}
	_, _ = r.Write(out)
}

// appendBareOPT appends an OPT record (root owner, our UDP size, version 0,
// no flags or options) to a packed message with no additional records.
func appendBareOPT(b []byte, udpSize uint16) []byte {
	out := make([]byte, len(b), len(b)+11)
	copy(out, b)
	binary.BigEndian.PutUint16(out[10:], 1)
	return append(out, 0, 0, 41, byte(udpSize>>8), byte(udpSize), 0, 0, 0, 0, 0, 0)
}

// Write queues b as the answer to the query being handled; a second
// write for the same query (a panic after the answer was written) is
// dropped.
func (r *udpReader) Write(b []byte) (int, error) {
	if r.wrote {
		return 0, errors.New("dnsserver: second answer to one query")
	}
	r.wrote = true
	k := r.n
	r.n++
	r.outBuf[k] = append(r.outBuf[k][:0], b...)
	o := &r.out[k]
	o.Buffers[0] = r.outBuf[k]
	o.Addr = r.in[r.cur].Addr
	o.OOB = nil
	if r.u.pktinfo {
		o.OOB = correctSource(r.in[r.cur].OOB[:r.in[r.cur].NN])
	}
	return len(b), nil
}

// flush sends the queued answers. A failed send drops that answer (the
// resolver retries), not the rest of the batch.
func (r *udpReader) flush() {
	for sent := 0; sent < r.n; {
		w, err := r.u.conn.WriteBatch(r.out[sent:r.n], 0)
		if err != nil {
			r.u.s.m.udpWriteErrors.Inc()
			r.u.s.log.Debug("udp write", "err", err, "to", r.out[sent].Addr)
			w = max(w, 1)
		}
		sent += w
	}
	for k := range r.n {
		r.out[k].Addr = nil
		if cap(r.outBuf[k]) > udpReadSize {
			r.outBuf[k] = make([]byte, 0, 512) // a rare large answer: do not keep it
		}
	}
	r.n = 0
}

// correctSource turns the destination of a query (IP_PKTINFO or
// IPV6_PKTINFO from a wildcard socket) into the control data that sends
// the answer from that address.
func correctSource(oob []byte) []byte {
	var dst net.IP
	var cm6 ipv6.ControlMessage
	if cm6.Parse(oob) == nil && cm6.Dst != nil {
		dst = cm6.Dst
	} else {
		var cm4 ipv4.ControlMessage
		if cm4.Parse(oob) == nil && cm4.Dst != nil {
			dst = cm4.Dst
		}
	}
	if dst == nil {
		return nil
	}
	// ipv6's Marshal ignores IPv4 addresses: an IPv4 destination on a
	// dual-stack socket is answered with IP_PKTINFO.
	if dst.To4() == nil {
		return (&ipv6.ControlMessage{Src: dst}).Marshal()
	}
	return (&ipv4.ControlMessage{Src: dst}).Marshal()
}

// udpAddrPort is the address a UDP socket is bound to.
func udpAddrPort(pc net.PacketConn) netip.AddrPort {
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}
