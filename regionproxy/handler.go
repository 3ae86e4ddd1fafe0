package regionproxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"runtime/debug"
	"strconv"
	"time"
)

// SpilloverHeader marks a request that a proxy of another region forwarded
// because it had no backend; its value is that region. A request carrying
// it is never spilled again, whoever sent it: a client that forges it only
// denies itself spill-over, and two regions without backends cannot bounce
// a request between them.
const SpilloverHeader = "Meridian-Spillover"

// maxBufferedBody is the largest request body held in memory so that the
// request can be retried on another backend. Larger bodies stream to the
// first backend and are never retried. 64 KiB covers form posts and most
// API calls while bounding memory per request (HAProxy's retries need the
// request to fit tune.bufsize, 16 KiB by default).
const maxBufferedBody = 64 << 10

// retryAfter is sent with 503 when nothing can serve a pool: about the time
// an active check or a DNS answer takes to move traffic.
const retryAfter = "5"

// statusClientClosed is recorded (NGINX's 499) when the client went away
// before the backend answered. Nobody reads the response.
const statusClientClosed = 499

// forwardingHeaders are the headers that carry the client's identity
// between proxies. ReverseProxy drops all but X-Real-Ip before Rewrite;
// they are kept only from a known Meridian proxy.
var forwardingHeaders = [...]string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip"}

// errorBodies are the generic bodies of the errors the proxy answers
// itself: nothing about backends, addresses or causes.
var errorBodies = map[int]string{}

func init() {
	for _, c := range []int{http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed,
		http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout} {
		errorBodies[c] = strconv.Itoa(c) + " " + http.StatusText(c) + "\n"
	}
}

// request is the state of one request through the proxy. It owns a
// ReverseProxy whose Rewrite, Transport and ErrorHandler are its own
// methods, so the attempt loop needs no context values; requests are
// recycled through a sync.Pool, which keeps the request path free of
// per-request allocations for this state.
type request struct {
	p  *Proxy
	rp httputil.ReverseProxy
	w  responseWriter

	in        *http.Request
	start     time.Time
	pool      *pool
	trusted   bool // the direct peer is a known Meridian proxy
	spilledIn bool // the request carries SpilloverHeader: never spill it again

	body       []byte // buffered request body, when replayable and not empty
	replayable bool   // the body can be sent again

	target   *backend   // of the current attempt
	served   *backend   // whose response is being relayed; in flight until the end
	tried    []*backend // in attempt order
	attempts int
}

func newRequest(p *Proxy) *request {
	r := &request{p: p, tried: make([]*backend, 0, 4)}
	r.rp = httputil.ReverseProxy{
		Rewrite:      r.rewrite,
		Transport:    r,
		ErrorHandler: r.errorHandler,
		BufferPool:   &p.buffers,
		ErrorLog:     p.rpLog,
	}
	return r
}

func (r *request) reset() {
	clear(r.tried)
	*r = request{p: r.p, rp: r.rp, tried: r.tried[:0]}
}

// ServeHTTP proxies one request: pool by Host, backend by the pool's
// balancer, retries on other backends, spill-over to other regions.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, in *http.Request) {
	r := p.reqs.Get().(*request)
	r.in, r.start, r.w.ResponseWriter = in, time.Now(), w
	p.inFlight.Add(1)
	defer func() {
		v := recover()
		abort := v != nil
		if v != nil && v != http.ErrAbortHandler { //nolint:errorlint // sentinel panic value, compared as net/http does
			p.m.panics.Inc()
			p.logger.Error("panic serving request", "err", fmt.Sprintf("%v\n%s", v, debug.Stack()))
			if r.w.code == 0 {
				p.writeError(&r.w, http.StatusInternalServerError)
				abort = false
			}
		}
		r.finish()
		if abort {
			// The response is half written: abort the connection (net/http
			// does so silently) rather than let it look complete.
			panic(http.ErrAbortHandler)
		}
		if v == nil {
			r.reset()
			p.reqs.Put(r)
		}
	}()
	r.serve()
}

// finish records the request's metrics and releases its counters.
func (r *request) finish() {
	pm := r.p.noPool
	if r.pool != nil {
		pm = r.pool.m
	}
	pm.codes[codeClass(r.w.code)].Inc()
	pm.duration.Observe(time.Since(r.start).Seconds())
	if r.served != nil {
		r.served.inflight.Add(-1)
	}
	r.p.inFlight.Add(-1)
}

func (r *request) serve() {
	p, in := r.p, r.in
	if p.draining.Load() && in.Header.Get("Upgrade") == "" {
		// Clients reconnect, and resolve again, after this response. (Not
		// on an upgrade, whose response must say Connection: Upgrade.)
		r.w.Header().Set("Connection", "close")
	}
	if in.Method == http.MethodConnect {
		p.writeError(&r.w, http.StatusMethodNotAllowed) // a reverse proxy is not a tunnel
		return
	}
	tbl := p.table.Load()
	r.pool = tbl.match(in.Host)
	if r.pool == nil {
		p.writeError(&r.w, http.StatusNotFound)
		return
	}
	if peer, err := netip.ParseAddrPort(in.RemoteAddr); err == nil {
		_, r.trusted = tbl.known[peer.Addr().Unmap()]
	}
	_, r.spilledIn = in.Header[SpilloverHeader]

	// A response cache (RFC 9111, a later issue) answers here, before a
	// backend is chosen, and stores what ReverseProxy relays.

	if !r.bufferBody() {
		p.writeError(&r.w, http.StatusBadRequest)
		return
	}
	r.target = r.next()
	if r.target == nil {
		r.pool.m.noBackend.Inc()
		p.writeError(&r.w, http.StatusServiceUnavailable)
		return
	}
	r.rp.ServeHTTP(&r.w, in)
}

// next chooses the target of the next attempt: an eligible local backend
// from the balancer, else an up proxy of the first spill-over region that
// has one not yet tried; nil when there is none.
func (r *request) next() *backend {
	pl := r.pool
	if b := pl.core.bal.pick(r.in, r.tried); b != nil {
		return b
	}
	if r.spilledIn {
		return nil
	}
	for i := range pl.spill {
		s := &pl.spill[i]
		if b := s.pick(r.tried); b != nil {
			s.count.Inc()
			return b
		}
	}
	return nil
}

// bufferBody reads a small request body into memory so that the request
// can be retried. It reports false when the client's body cannot be read.
func (r *request) bufferBody() bool {
	in := r.in
	switch {
	case in.Body == nil || in.Body == http.NoBody || in.ContentLength == 0:
		r.replayable = true
		return true
	case in.ContentLength > maxBufferedBody:
		return true // streamed, not replayable
	}
	var buf []byte
	var err error
	if in.ContentLength > 0 {
		buf = make([]byte, in.ContentLength)
		_, err = io.ReadFull(in.Body, buf)
	} else { // unknown length (chunked): read up to the limit
		buf, err = io.ReadAll(io.LimitReader(in.Body, maxBufferedBody+1))
	}
	if err != nil {
		return false
	}
	if len(buf) > maxBufferedBody {
		in.Body = &prefixedBody{Reader: io.MultiReader(bytes.NewReader(buf), in.Body), closer: in.Body}
		return true
	}
	r.body, r.replayable = buf, true
	in.Body = io.NopCloser(bytes.NewReader(buf))
	if len(buf) == 0 {
		in.Body = http.NoBody
	}
	in.ContentLength = int64(len(buf))
	in.GetBody = r.getBody
	return true
}

func (r *request) getBody() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(r.body)), nil
}

// prefixedBody is a body whose start was read to find its length.
type prefixedBody struct {
	io.Reader
	closer io.Closer
}

func (b *prefixedBody) Close() error { return b.closer.Close() }

// rewrite is the ReverseProxy's Rewrite: the outbound request for the
// first target. Retries change only the target (RoundTrip).
func (r *request) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(r.target.url)
	// Backends and the next region's proxy route on the name the client
	// asked for, not on the backend's address.
	pr.Out.Host = pr.In.Host
	in, out := pr.In.Header, pr.Out.Header
	if r.trusted {
		// Spill-over from a known proxy: it set these for the client.
		for _, k := range forwardingHeaders {
			if v, ok := in[k]; ok {
				out[k] = v
			}
		}
	} else {
		// From anyone else they are whatever the client made up.
		delete(out, "X-Real-Ip")
		delete(out, SpilloverHeader)
	}
	host, proto := out["X-Forwarded-Host"], out["X-Forwarded-Proto"]
	pr.SetXForwarded() // appends the peer to X-Forwarded-For
	if host != nil {
		out["X-Forwarded-Host"] = host
	}
	if proto != nil {
		out["X-Forwarded-Proto"] = proto
	}
	if r.target.spill {
		out.Set(SpilloverHeader, r.p.opts.Region)
	}
}

// RoundTrip is the ReverseProxy's Transport: it runs the attempts of one
// request until one gets a response or none may be retried.
func (r *request) RoundTrip(out *http.Request) (*http.Response, error) {
	pl := r.pool
	req := out
	for {
		b := r.target
		r.tried = append(r.tried, b)
		r.attempts++
		tr := pl.tr
		if b.spill {
			tr = pl.spillTr
		}
		b.inflight.Add(1)
		res, err := tr.RoundTrip(req)
		if err == nil {
			r.served = b
			b.success()
			pl.m.ok.Inc()
			return res, nil
		}
		b.inflight.Add(-1)
		if r.in.Context().Err() != nil {
			return nil, err // the client went away: says nothing about the backend
		}
		if b.failure() {
			r.p.ejected(b, err)
		}
		var next *backend
		if r.attempts <= pl.retries && r.retryable(err) {
			next = r.next()
		}
		if next == nil {
			pl.m.fail.Inc()
			return nil, err
		}
		pl.m.retry.Inc()
		pl.m.retries.Inc()
		r.p.logger.Debug("retrying on another backend", "pool", pl.name,
			"backend", b.addr, "err", err)
		r.target = next
		req = r.retryRequest(out, next)
	}
}

// retryable reports whether a failed attempt may be sent again elsewhere:
// always when it never reached the backend (dial error), otherwise only for
// idempotent requests, and never when the body cannot be replayed.
func (r *request) retryable(err error) bool {
	if !r.replayable {
		return false
	}
	var de *dialError
	if errors.As(err, &de) {
		return true
	}
	return idempotent(r.in)
}

// idempotent reports whether a request may be repeated (RFC 9110 9.2.2),
// counting an Idempotency-Key as Go's Transport does.
func idempotent(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	_, ok := r.Header["Idempotency-Key"]
	if !ok {
		_, ok = r.Header["X-Idempotency-Key"]
	}
	return ok
}

// retryRequest returns the outbound request of the first attempt aimed at
// b, with a fresh body: the transport may still hold the previous one.
func (r *request) retryRequest(out *http.Request, b *backend) *http.Request {
	req := new(http.Request)
	*req = *out
	u := *out.URL
	u.Scheme, u.Host = b.url.Scheme, b.url.Host
	req.URL = &u
	if out.Body != nil && r.body != nil {
		req.Body, _ = r.getBody()
	}
	// Only a request to another region's proxy says it was spilled (or one
	// that already was, from a known proxy).
	want := b.spill || (r.trusted && r.spilledIn)
	if _, have := out.Header[SpilloverHeader]; want != have {
		req.Header = out.Header.Clone()
		if want {
			req.Header.Set(SpilloverHeader, r.p.opts.Region)
		} else {
			delete(req.Header, SpilloverHeader)
		}
	}
	return req
}

// errorHandler is the ReverseProxy's ErrorHandler: the last attempt failed.
// The client gets a generic status; the cause and backend go to the log.
func (r *request) errorHandler(w http.ResponseWriter, _ *http.Request, err error) {
	code := http.StatusBadGateway
	var ne net.Error
	switch {
	case r.in.Context().Err() != nil:
		r.w.code = statusClientClosed // nobody is left to read a response
		return
	case errors.As(err, &ne) && ne.Timeout():
		code = http.StatusGatewayTimeout
	}
	attrs := []any{"err", err}
	if r.pool != nil {
		attrs = append(attrs, "pool", r.pool.name)
	}
	if r.target != nil {
		attrs = append(attrs, "backend", r.target.addr)
	}
	r.p.logger.Debug("request failed", attrs...)
	r.p.writeError(w, code)
}

// writeError answers with a generic error.
func (p *Proxy) writeError(w http.ResponseWriter, code int) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if code == http.StatusServiceUnavailable {
		h.Set("Retry-After", retryAfter)
	}
	w.WriteHeader(code)
	_, _ = io.WriteString(w, errorBodies[code])
}

// responseWriter records the status sent to the client. Unwrap lets
// http.ResponseController (flush, hijack for WebSockets) reach the
// server's writer.
type responseWriter struct {
	http.ResponseWriter
	code int
}

func (w *responseWriter) WriteHeader(code int) {
	if w.code == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
