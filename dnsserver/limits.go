package dnsserver

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"
)

// TCP defaults.
const (
	// DefaultTCPMaxConns bounds open TCP connections across all listen
	// addresses. Each costs a goroutine and a few KiB; 1000 is far more
	// than resolvers keep open to one authoritative server (they open
	// one per retry after TC, or keep a few for DoT-less privacy), and
	// it keeps well inside the usual 1024 file descriptors.
	DefaultTCPMaxConns = 1000
	// DefaultTCPIdleTimeout is how long a connection may wait between
	// queries. RFC 7766 §6.2.3 asks servers to allow idle time and to
	// keep it short under load; 10 s lets a resolver reuse a connection
	// for a burst of lookups without holding a slot for long.
	DefaultTCPIdleTimeout = 10 * time.Second
	// DefaultTCPReadTimeout bounds reading the first query of a
	// connection, and each query once it has started: a client that
	// connects and sends nothing (or one byte at a time) holds its slot
	// this long at most. miekg/dns's own default.
	DefaultTCPReadTimeout = 2 * time.Second
	// DefaultTCPWriteTimeout bounds writing one answer to a client that
	// does not read. miekg/dns's own default.
	DefaultTCPWriteTimeout = 2 * time.Second
	// DefaultTCPMaxQueries is how many queries one connection may carry
	// before the server closes it; the client opens another. It recycles
	// connections so that a busy client cannot hold one slot forever, and
	// is large enough for any pipelined burst. miekg/dns's own default.
	DefaultTCPMaxQueries = 128
)

// TCPOptions configure the TCP listeners. The zero value takes the
// defaults.
type TCPOptions struct {
	// MaxConns bounds open connections over all addresses; a connection
	// beyond it is reset at once and counted
	// (meridian_dns_tcp_connections_rejected_total). Negative: no limit.
	// Default DefaultTCPMaxConns.
	MaxConns int
	// IdleTimeout closes a connection that waits longer than this for its
	// next query. Default DefaultTCPIdleTimeout.
	IdleTimeout time.Duration
	// ReadTimeout bounds reading a query (the first one of a connection,
	// and each once its first byte has arrived). Default
	// DefaultTCPReadTimeout.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing an answer. Default
	// DefaultTCPWriteTimeout.
	WriteTimeout time.Duration
	// MaxQueries is how many queries a connection carries before the
	// server closes it. Negative: no limit. Default DefaultTCPMaxQueries.
	MaxQueries int
}

func (o TCPOptions) withDefaults() (TCPOptions, error) {
	if o.MaxConns == 0 {
		o.MaxConns = DefaultTCPMaxConns
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultTCPIdleTimeout
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = DefaultTCPReadTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultTCPWriteTimeout
	}
	if o.MaxQueries == 0 {
		o.MaxQueries = DefaultTCPMaxQueries
	}
	if o.MaxQueries < 0 {
		o.MaxQueries = -1 // miekg/dns's "unlimited"
	}
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"IdleTimeout", o.IdleTimeout}, {"ReadTimeout", o.ReadTimeout}, {"WriteTimeout", o.WriteTimeout}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("dnsserver: Options.TCP.%s %s is negative", d.name, d.v))
		}
	}
	return o, errors.Join(errs...)
}

// connLimit counts the open TCP connections of all listeners of a
// server against one limit.
type connLimit struct {
	max          int64 // ≤ 0: no limit
	writeTimeout time.Duration
	open         atomic.Int64
	m            *metrics
}

// limitListener accepts connections up to the shared limit and resets
// those beyond it at once, so that a connection flood costs the server a
// file descriptor for a moment, not a goroutine and a read timeout.
type limitListener struct {
	net.Listener
	lim *connLimit
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if n := l.lim.open.Add(1); l.lim.max > 0 && n > l.lim.max {
			l.lim.open.Add(-1)
			l.lim.m.tcpRejected.Inc()
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // RST: no TIME_WAIT left on our side
			}
			_ = c.Close()
			continue
		}
		l.lim.m.tcpConns.Inc()
		return &limitConn{Conn: c, lim: l.lim}, nil
	}
}

// limitConn gives its slot back when closed, once, and bounds each write:
// miekg/dns documents Server.WriteTimeout but never sets a write deadline,
// so a client that stops reading would hold the connection's goroutine,
// and a graceful shutdown, for good.
type limitConn struct {
	net.Conn
	lim    *connLimit
	closed atomic.Bool
}

func (c *limitConn) Write(b []byte) (int, error) {
	err := c.Conn.SetWriteDeadline(time.Now().Add(c.lim.writeTimeout))
	n := 0
	if err == nil {
		n, err = c.Conn.Write(b)
	}
	if err != nil {
		// Part of an answer may have gone out: the stream is out of step,
		// and miekg/dns would go on reading queries from it. Close it, so
		// that its next read fails and the connection ends.
		_ = c.Conn.Close()
	}
	return n, err
}

func (c *limitConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.lim.open.Add(-1)
		c.lim.m.tcpConns.Dec()
	}
	return c.Conn.Close()
}
