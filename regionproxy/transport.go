package regionproxy

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// Transport defaults, for backends on the same network as the proxy.
const (
	// maxIdlePerHost is well above Go's default of 2, which under load makes
	// a proxy open and close a connection per request (Traefik's dynamic
	// transports, caddyserver/caddy#6452); Caddy keeps 32, NGINX 32 per
	// worker.
	maxIdlePerHost = 64
	// maxIdle caps idle connections over all backends of one transport.
	maxIdle = 4096
	// idleTimeout is shorter than the idle timeouts of common backend
	// servers (NGINX 75 s, Go servers often 60-120 s) so that the proxy, not
	// the backend, closes an idle connection, and a request is not sent on
	// one the backend is closing (Node's 5 s remains a risk; Go retries
	// such failures of idempotent requests itself).
	idleTimeout = 30 * time.Second
	// tcpKeepAlive probes idle backend connections so that a backend that
	// vanished without a FIN is noticed before the next request.
	tcpKeepAlive = 15 * time.Second
	tlsTimeout   = 5 * time.Second
)

// dialError marks a failure to connect: nothing reached the backend, so any
// request, whatever its method, may be retried elsewhere (Caddy's
// DialError).
type dialError struct{ err error }

func (e *dialError) Error() string { return "dial: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// transportKey identifies a transport: one per combination of a pool's
// timeouts, and separate ones for spill-over, which dial from the
// advertised address.
type transportKey struct {
	connect, response time.Duration
	spill             bool
}

// newTransport returns the transport for k. base, when set, is cloned
// (tests pass one); otherwise the transport is built here, never from
// http.DefaultTransport. src, when valid, is the local address of
// spill-over connections.
func newTransport(base *http.Transport, k transportKey, src netip.Addr) *http.Transport {
	var t *http.Transport
	if base != nil {
		t = base.Clone()
	} else {
		t = &http.Transport{
			Proxy:                 nil, // never HTTP_PROXY from the environment
			TLSHandshakeTimeout:   tlsTimeout,
			MaxIdleConns:          maxIdle,
			MaxIdleConnsPerHost:   maxIdlePerHost,
			IdleConnTimeout:       idleTimeout,
			ExpectContinueTimeout: time.Second,
			// A proxy passes bodies through as they are: the transport must
			// not ask for gzip and decompress behind the client's back.
			DisableCompression: true,
			// Backends speak HTTP/1.1 in the first cut; Rewrite preserves
			// Upgrade for WebSockets.
			ForceAttemptHTTP2:      false,
			MaxResponseHeaderBytes: 1 << 20,
		}
	}
	t.ResponseHeaderTimeout = k.response
	dial := t.DialContext
	if dial == nil {
		d := &net.Dialer{KeepAlive: tcpKeepAlive}
		if k.spill && src.IsValid() {
			// The next region recognises us as a Meridian proxy by this
			// address (it is in our region's proxies list), which lets it
			// trust our X-Forwarded-For.
			d.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
		}
		dial = d.DialContext
	}
	connect := k.connect
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(ctx, connect)
		defer cancel()
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, &dialError{err: err}
		}
		return c, nil
	}
	return t
}

// isLocal reports whether a can be bound as a source address on this host:
// it is assigned to an interface, or it is a loopback address (Linux treats
// all of 127.0.0.0/8 as local).
func isLocal(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	if a.IsLoopback() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, ia := range addrs {
		if n, ok := ia.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == a {
				return true
			}
		}
	}
	return false
}
