package dnsserver

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/gslb/geo"
)

// Defaults.
const (
	// DefaultUDPSize is the largest UDP response sent, and the size
	// advertised in our OPT record: 1232 bytes fits a 1280-byte IPv6
	// minimum MTU with headers, so answers are never fragmented (DNS flag
	// day 2020).
	DefaultUDPSize = 1232
	// DefaultMaxSourceV4 and DefaultMaxSourceV6 are the longest ECS source
	// prefixes honoured, as RFC 7871 §11.1 recommends for privacy.
	DefaultMaxSourceV4 = 24
	DefaultMaxSourceV6 = 56
	// DefaultShutdownTimeout bounds the wait for in-flight TCP queries
	// when ListenAndServe's context ends. A query takes microseconds;
	// the wait is for slow clients reading their answers.
	DefaultShutdownTimeout = 5 * time.Second
	// maxNSID keeps the NSID option, sent in every answer that asks for
	// it, small.
	maxNSID = 128
)

// Options configure a Server.
type Options struct {
	// Snapshot returns the current snapshot (an atomic load from the
	// store). Required. A nil result answers SERVFAIL: not ready.
	Snapshot func() *gslb.Snapshot
	// Geo locates clients outside the operator networks; may be nil.
	Geo geo.Locator
	// Logger; nil discards.
	Logger *slog.Logger
	// Registerer for the metrics; nil leaves them unregistered.
	Registerer prometheus.Registerer
	// NSID is this server's identity for RFC 5001, sent only to queries
	// that ask for it, and answered to CHAOS TXT id.server/hostname.bind.
	// "" disables both.
	NSID string
	// UDPSize is the largest UDP response sent with EDNS and the size
	// advertised. Default DefaultUDPSize; at least 512.
	UDPSize uint16
	// ECS configures EDNS Client Subnet.
	ECS ECSOptions
	// ShutdownTimeout bounds the graceful shutdown of ListenAndServe.
	// Default DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// DNSSEC configures online signing (dnssec.go); the zero value signs
	// nothing.
	DNSSEC DNSSECOptions
	// RRL configures response rate limiting of UDP answers; on by
	// default.
	RRL RRLOptions
	// TCP configures the TCP listeners: connection limit and timeouts.
	TCP TCPOptions
	// QueryLog configures the sampled query log; off by default.
	QueryLog QueryLogOptions
	// Workers is the number of UDP sockets per listen address, sharing
	// the port through SO_REUSEPORT (Linux only), each read by its own
	// goroutine. Default 1: see README.md for the measurement.
	Workers int
	// UDPReaders is the number of goroutines reading and answering each
	// UDP socket, in batches (udp.go). Default: GOMAXPROCS / Workers, at
	// least 2, so that one answers while another waits for packets.
	UDPReaders int
}

// ECSOptions configure EDNS Client Subnet (RFC 7871). The zero value
// enables it with the default limits.
type ECSOptions struct {
	// Disabled ignores ECS options: location by the resolver's address,
	// no option echoed.
	Disabled bool
	// MaxSourceV4 and MaxSourceV6 are the longest source prefixes used for
	// location; longer ones are clipped. Defaults DefaultMaxSourceV4 and
	// DefaultMaxSourceV6.
	MaxSourceV4, MaxSourceV6 int
}

// Server is the authoritative DNS server. It is safe for concurrent use.
type Server struct {
	snapshotFn      func() *gslb.Snapshot
	geo             geo.Locator
	log             *slog.Logger
	m               *metrics
	ednsInvalid     ednsInvalid // unparseable EDNS queries awaiting their FORMERR (formerr.go)
	nsidText        string
	nsid            string // hex, as dns.EDNS0_NSID wants it
	udpSize         int
	ecs             ECSOptions
	shutdownTimeout time.Duration
	tcp             TCPOptions
	workers         int
	udpReadersOpt   int

	rrl  *rrl      // nil: off
	qlog *queryLog // nil: off

	dnssec *signer // nil: no zone is signed

	cur       atomic.Pointer[compiled]
	compileMu sync.Mutex
	logged    map[problem]bool // problems of the current compilation, guarded by compileMu

	replies sync.Pool // *reply
	bufs    sync.Pool // *[]byte

	addrMu sync.Mutex
	addrs  []netip.AddrPort

	panicMu   sync.Mutex
	panicSeen map[string]bool
}

// New returns a Server. It registers the metrics on opts.Registerer and
// fails if they are already registered there.
func New(opts Options) (*Server, error) {
	var errs []error
	if opts.Snapshot == nil {
		errs = append(errs, errors.New("dnsserver: Options.Snapshot is required"))
	}
	if opts.UDPSize == 0 {
		opts.UDPSize = DefaultUDPSize
	}
	if opts.UDPSize < dns.MinMsgSize {
		errs = append(errs, fmt.Errorf("dnsserver: Options.UDPSize %d is below %d", opts.UDPSize, dns.MinMsgSize))
	}
	if opts.ECS.MaxSourceV4 == 0 {
		opts.ECS.MaxSourceV4 = DefaultMaxSourceV4
	}
	if opts.ECS.MaxSourceV6 == 0 {
		opts.ECS.MaxSourceV6 = DefaultMaxSourceV6
	}
	if v := opts.ECS.MaxSourceV4; v < 0 || v > 32 {
		errs = append(errs, fmt.Errorf("dnsserver: Options.ECS.MaxSourceV4 %d out of range 1..32", v))
	}
	if v := opts.ECS.MaxSourceV6; v < 0 || v > 128 {
		errs = append(errs, fmt.Errorf("dnsserver: Options.ECS.MaxSourceV6 %d out of range 1..128", v))
	}
	if len(opts.NSID) > maxNSID {
		errs = append(errs, fmt.Errorf("dnsserver: Options.NSID is %d bytes, more than %d", len(opts.NSID), maxNSID))
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = DefaultShutdownTimeout
	}
	var err error
	if opts.RRL, err = opts.RRL.withDefaults(); err != nil {
		errs = append(errs, err)
	}
	if opts.TCP, err = opts.TCP.withDefaults(); err != nil {
		errs = append(errs, err)
	}
	if opts.QueryLog, err = opts.QueryLog.withDefaults(); err != nil {
		errs = append(errs, err)
	}
	if opts.Workers == 0 {
		opts.Workers = 1
	}
	if opts.Workers < 1 || opts.Workers > 64 {
		errs = append(errs, fmt.Errorf("dnsserver: Options.Workers %d out of range 1..64", opts.Workers))
	}
	if opts.UDPReaders < 0 || opts.UDPReaders > 256 {
		errs = append(errs, fmt.Errorf("dnsserver: Options.UDPReaders %d out of range 1..256", opts.UDPReaders))
	}
	if opts.Workers > 1 && !reusePortSupported {
		errs = append(errs, fmt.Errorf("dnsserver: Options.Workers %d needs SO_REUSEPORT, which this system does not balance", opts.Workers))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("dnsserver: register metrics: %w", err)
	}
	sg, err := newSigner(opts.DNSSEC, opts.Registerer)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		snapshotFn:      opts.Snapshot,
		geo:             opts.Geo,
		log:             log,
		m:               m,
		nsidText:        opts.NSID,
		nsid:            hex.EncodeToString([]byte(opts.NSID)),
		udpSize:         int(opts.UDPSize),
		ecs:             opts.ECS,
		shutdownTimeout: opts.ShutdownTimeout,
		tcp:             opts.TCP,
		workers:         opts.Workers,
		udpReadersOpt:   opts.UDPReaders,
		rrl:             newRRL(opts.RRL),
		qlog:            newQueryLog(opts.QueryLog, log, opts.RRL, opts.ECS, m),
		panicSeen:       map[string]bool{},
		dnssec:          sg,
	}
	s.replies.New = func() any { return new(reply) }
	s.bufs.New = func() any {
		// Room for any UDP answer we send; TCP answers beyond it grow it.
		b := make([]byte, 0, 4096)
		return &b
	}
	return s, nil
}

// ServeDNS implements dns.Handler: Resolve, rate-limit UDP answers, write
// the answer, log it if sampled.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	proto, remote := transport(w)
	start := time.Now()
	s.serve(w, req, proto, remote, start)
	s.m.duration[protoIndex(proto)].Observe(time.Since(start).Seconds())
}

// answerWriter is where an answer goes: miekg/dns's ResponseWriter for
// TCP, a UDP reader's batch (udp.go).
type answerWriter interface {
	Write([]byte) (int, error)
}

// serve answers req, received at start, through w. The caller observes
// the duration: per query for TCP, per batch for UDP (udp.go).
func (s *Server) serve(w answerWriter, req *dns.Msg, proto string, remote netip.AddrPort, start time.Time) {
	defer s.recoverQuery(w, req, proto)
	r := s.replies.Get().(*reply)
	if m := s.resolve(req, remote, proto, r); m != nil {
		var line queryLine
		logged := s.qlog != nil && s.qlog.take(start)
		if logged {
			line = s.qlog.capture(s, req, m, remote.Addr(), proto)
		}
		action := rrlSend
		if s.rrl != nil && proto == protoUDP {
			action = s.rrlCheck(m, remote.Addr(), start)
		}
		switch action {
		case rrlSlip:
			slipReply(m)
			s.write(w, m)
		case rrlSend:
			s.write(w, m)
		}
		if logged {
			s.qlog.emit(&line, time.Since(start), action)
		}
	}
	*r = reply{} // drop references to the snapshot before pooling
	s.replies.Put(r)
}

func transport(w dns.ResponseWriter) (string, netip.AddrPort) {
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		return protoUDP, a.AddrPort()
	case *net.TCPAddr:
		return protoTCP, a.AddrPort()
	}
	return protoUDP, netip.AddrPort{}
}

// write packs m into a pooled buffer and sends it (miekg's WriteMsg would
// allocate a fresh buffer per answer).
func (s *Server) write(w answerWriter, m *dns.Msg) {
	bp := s.bufs.Get().(*[]byte)
	out, err := s.packReply(m, (*bp)[:cap(*bp)])
	if err != nil {
		// Only bad data gets here (a record that passed CheckRecord but
		// does not pack with this message): say SERVFAIL rather than
		// nothing, so the resolver tries another server.
		s.log.Error("pack answer", "err", err, "rcode", dns.RcodeToString[m.Rcode])
		fail := new(dns.Msg)
		fail.Id, fail.Response, fail.Opcode, fail.Rcode = m.Id, true, m.Opcode, dns.RcodeServerFailure
		fail.Question = m.Question
		out, err = fail.PackBuffer((*bp)[:cap(*bp)])
		if err != nil {
			s.bufs.Put(bp)
			return
		}
	}
	if _, err := w.Write(out); err != nil {
		s.log.Debug("write answer", "err", err)
	}
	if cap(out) <= dns.MaxMsgSize+1 {
		*bp = out[:0]
	}
	s.bufs.Put(bp)
}

// recoverQuery turns a panic while answering into SERVFAIL, a count and
// one log line; the stack is logged the first time each panic value is
// seen, so a panic on every query cannot flood the log with stacks.
func (s *Server) recoverQuery(w answerWriter, req *dns.Msg, proto string) {
	v := recover()
	if v == nil {
		return
	}
	s.m.panics.Inc()
	msg := fmt.Sprint(v)
	s.panicMu.Lock()
	first := !s.panicSeen[msg] && len(s.panicSeen) < 64
	if first {
		s.panicSeen[msg] = true
	}
	s.panicMu.Unlock()
	if first {
		s.log.Error("panic answering a query", "err", msg, "stack", string(debug.Stack()))
	} else {
		s.log.Error("panic answering a query (stack logged before)", "err", msg)
	}
	if req == nil || req.Response {
		return
	}
	var qtype uint16
	if len(req.Question) == 1 {
		qtype = req.Question[0].Qtype
	}
	s.m.none.inc(qtype, dns.RcodeServerFailure, proto)
	fail := new(dns.Msg)
	fail.Id, fail.Response, fail.Opcode, fail.Rcode = req.Id, true, req.Opcode, dns.RcodeServerFailure
	fail.RecursionDesired = req.RecursionDesired
	if len(req.Question) == 1 {
		fail.Question = req.Question[:1:1]
	}
	if req.IsEdns0() != nil {
		fail.SetEdns0(uint16(s.udpSize), false)
	}
	if out, err := fail.Pack(); err == nil {
		_, _ = w.Write(out)
	}
}

// acceptFunc filters messages before miekg/dns unpacks them. Responses are
// dropped (answering them can loop between two servers); messages with
// more records than any query has are refused with FORMERR before the work
// of unpacking them. Opcode and question count are left to Resolve, which
// answers NOTIMP and FORMERR with EDNS and metrics.
func (s *Server) acceptFunc(proto string) dns.MsgAcceptFunc {
	return func(h dns.Header) dns.MsgAcceptAction {
		return s.acceptHeader(h.Bits, h.Ancount, h.Nscount, h.Arcount, proto)
	}
}

// accept is acceptFunc for a raw message of at least 12 bytes.
func (s *Server) accept(b []byte, proto string) dns.MsgAcceptAction {
	return s.acceptHeader(binary.BigEndian.Uint16(b[2:]), binary.BigEndian.Uint16(b[6:]),
		binary.BigEndian.Uint16(b[8:]), binary.BigEndian.Uint16(b[10:]), proto)
}

func (s *Server) acceptHeader(bits, an, ns, ar uint16, proto string) dns.MsgAcceptAction {
	const qr = 1 << 15
	if bits&qr != 0 {
		return dns.MsgIgnore
	}
	// A NOTIFY carries one SOA in the answer section (RFC 1996, we
	// answer it NOTIMP), an IXFR query one in the authority section
	// (RFC 1995); OPT and TSIG make two additional records.
	if an > 1 || ns > 1 || ar > 2 {
		s.m.none.inc(0, dns.RcodeFormatError, proto)
		return dns.MsgReject
	}
	return dns.MsgAccept
}

// invalidFunc counts messages that miekg/dns could not unpack: those with
// a header are answered FORMERR by miekg/dns, shorter ones dropped.
func (s *Server) invalidFunc(proto string) dns.MsgInvalidFunc {
	return func(m []byte, err error) {
		if len(m) >= 12 {
			s.m.none.inc(0, dns.RcodeFormatError, proto)
			s.ednsInvalid.note(m)
		}
	}
}

// LocalAddrs returns the addresses ListenAndServe bound, once it has
// called started (useful with port 0).
func (s *Server) LocalAddrs() []netip.AddrPort {
	s.addrMu.Lock()
	defer s.addrMu.Unlock()
	return append([]netip.AddrPort(nil), s.addrs...)
}

// ListenAndServe serves UDP and TCP on every address ("127.0.0.1:53",
// "[::1]:53"); port 0 picks one free port for both. It binds everything
// first (an address that fails to bind is an error naming it, and nothing
// is served), then calls started (if not nil) once every listener is
// serving, and returns when ctx ends, after a graceful shutdown that lets
// in-flight queries finish (bounded by Options.ShutdownTimeout), or when a
// listener fails.
func (s *Server) ListenAndServe(ctx context.Context, addrs []string, started func()) error {
	if len(addrs) == 0 {
		return errors.New("dnsserver: no listen addresses")
	}
	var udps []*udpListener
	var servers []*dns.Server
	var bound []netip.AddrPort
	closeAll := func() {
		for _, u := range udps {
			u.pc.Close()
		}
		for _, srv := range servers {
			if srv.Listener != nil {
				srv.Listener.Close()
			}
		}
	}
	lim := &connLimit{max: int64(s.tcp.MaxConns), writeTimeout: s.tcp.WriteTimeout, m: s.m}
	for _, addr := range addrs {
		pcs, l, err := listenGroup(ctx, addr, s.workers)
		if err != nil {
			closeAll()
			return fmt.Errorf("dnsserver: listen %s: %w", addr, err)
		}
		for _, pc := range pcs {
			u, err := newUDPListener(s, pc)
			if err != nil {
				for _, pc := range pcs {
					pc.Close()
				}
				l.Close()
				closeAll()
				return fmt.Errorf("dnsserver: listen %s: %w", addr, err)
			}
			udps = append(udps, u)
		}
		servers = append(servers, s.tcpServer(&limitListener{Listener: l, lim: lim}))
		bound = append(bound, udpAddrPort(pcs[0]))
	}
	s.addrMu.Lock()
	s.addrs = bound
	s.addrMu.Unlock()

	// Every serve goroutine, UDP and TCP, sends exactly once on errc;
	// received counts them so that all have ended when ListenAndServe
	// returns.
	total := len(udps) + len(servers)
	errc := make(chan error, total)
	readers := s.udpReaders()
	for _, u := range udps {
		go func() {
			err := u.serve(readers)
			if err == nil {
				err = errors.New("stopped")
			}
			errc <- err
		}()
	}
	var up sync.WaitGroup
	for _, srv := range servers {
		up.Add(1)
		var once sync.Once
		srv.NotifyStartedFunc = func() { once.Do(up.Done) }
		go func() {
			err := srv.ActivateAndServe()
			once.Do(up.Done) // failed before starting: don't wait for it
			if err == nil {
				err = errors.New("stopped")
			}
			errc <- err
		}()
	}
	up.Wait()

	received := 0
	var err error
	select {
	case err = <-errc:
		received++
	default:
		s.log.Info("dns server listening", "addrs", addrs, "udp_sockets_per_addr", s.workers, "udp_readers_per_socket", readers)
		if started != nil {
			started()
		}
		select {
		case <-ctx.Done():
		case err = <-errc:
			received++
		}
	}
	if err != nil {
		err = fmt.Errorf("dnsserver: serve: %w", err)
	}
	// UDP readers finish the batch in hand and send its answers; TCP
	// connections finish their queries, within the shutdown timeout.
	for _, u := range udps {
		u.stop()
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.shutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, srv := range servers {
		wg.Go(func() {
			// A server that already stopped says "server not started".
			_ = srv.ShutdownContext(sctx)
		})
	}
	wg.Wait()
drain:
	for ; received < total; received++ {
		select {
		case <-errc:
		case <-sctx.Done():
			s.log.Warn("dns server shutdown timed out with queries in flight", "timeout", s.shutdownTimeout)
			break drain
		}
	}
	closeAll()
	s.log.Info("dns server stopped", "addrs", addrs)
	return err
}

// udpReaders is the number of reader goroutines per UDP socket: enough
// that every CPU can answer while another reader waits in recvmmsg.
func (s *Server) udpReaders() int {
	if s.udpReadersOpt > 0 {
		return s.udpReadersOpt
	}
	return max(2, runtime.GOMAXPROCS(0)/s.workers)
}

// tcpServer is miekg/dns's server for one TCP listener: TCP is served
// there, UDP by udp.go.
func (s *Server) tcpServer(l net.Listener) *dns.Server {
	idle := s.tcp.IdleTimeout
	return &dns.Server{
		Listener:       l,
		Net:            protoTCP,
		Handler:        s,
		MsgAcceptFunc:  s.acceptFunc(protoTCP),
		MsgInvalidFunc: s.invalidFunc(protoTCP),
		DecorateWriter: func(w dns.Writer) dns.Writer {
			return &formerrWriter{Writer: w, pending: &s.ednsInvalid, udpSize: uint16(s.udpSize)}
		},
		ReadTimeout:   s.tcp.ReadTimeout,
		WriteTimeout:  s.tcp.WriteTimeout, // documented, not used by miekg/dns: limitConn enforces it
		IdleTimeout:   func() time.Duration { return idle },
		MaxTCPQueries: s.tcp.MaxQueries,
	}
}
