package probes

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func mustChecker(t *testing.T, c Check, opts CheckerOptions) Checker {
	t.Helper()
	ch, err := NewChecker(c, opts)
	if err != nil {
		t.Fatalf("NewChecker(%+v): %v", c, err)
	}
	return ch
}

// backend is an httptest server with the handlers the checks below need.
type backend struct {
	srv      *httptest.Server
	landed   atomic.Int32       // requests that followed a redirect
	lastReq  chan *http.Request // the last request to /echo (buffered 1)
	slowDone chan struct{}      // closed by the cleanup to release /slow
}

func newBackend(t *testing.T, tlsServer bool) *backend {
	t.Helper()
	b := &backend{lastReq: make(chan *http.Request, 1), slowDone: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.PathValue("code"))
		if code >= 300 && code < 400 {
			w.Header().Set("Location", "/landing")
		}
		w.WriteHeader(code)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/body", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "status: db=up cache=up\n") })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", maxBodyBytes)+"MARK")
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/landing", http.StatusFound)
	})
	mux.HandleFunc("/landing", func(w http.ResponseWriter, r *http.Request) { b.landed.Add(1) })
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		select {
		case b.lastReq <- r.Clone(context.Background()):
		default:
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-b.slowDone:
		case <-r.Context().Done():
		}
	})
	b.srv = httptest.NewUnstartedServer(mux)
	// Handshake errors from the TLS failure cases are expected; keep them out of the test log.
	b.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tlsServer {
		b.srv.StartTLS()
	} else {
		b.srv.Start()
	}
	t.Cleanup(func() {
		close(b.slowDone)
		b.srv.Close()
	})
	return b
}

func (b *backend) addr() string { return b.srv.Listener.Addr().String() }

func TestHTTPCheck(t *testing.T) {
	b := newBackend(t, false)
	tests := []struct {
		name       string
		check      Check
		wantUp     bool
		wantDetail string
	}{
		{"default path and status", Check{}, true, "status 200"},
		{"204 within default 200-399", Check{Path: "/status/204"}, true, "status 204"},
		{"redirect is up by default", Check{Path: "/status/302"}, true, "status 302"},
		{"404 is down", Check{Path: "/status/404"}, false, "status 404"},
		{"503 is down", Check{Path: "/status/503"}, false, "status 503"},
		{"exact status", Check{Path: "/status/204", ExpectStatus: "200"}, false, "status 204"},
		{"list with 404", Check{Path: "/status/404", ExpectStatus: "200-299,404"}, true, "status 404"},
		{"class", Check{Path: "/status/503", ExpectStatus: "5xx"}, true, "status 503"},
		{"HEAD", Check{Method: "HEAD"}, true, "status 200"},
		{"body contains", Check{Path: "/body", ExpectBody: "db=up"}, true, "status 200"},
		{"body lacks", Check{Path: "/body", ExpectBody: "db=down"}, false, "status 200, body does not contain expect_body"},
		{"body beyond the read cap", Check{Path: "/big", ExpectBody: "MARK"}, false, "status 200, body does not contain expect_body"},
		{"status checked before body", Check{Path: "/status/500", ExpectBody: "ok"}, false, "status 500"},
		{"port override", Check{Port: b.srv.Listener.Addr().(*net.TCPAddr).Port}, true, "status 200"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := b.addr()
			if tc.check.Port != 0 {
				target = "127.0.0.1:1" // the check's port must win
			}
			got := mustChecker(t, tc.check, CheckerOptions{}).Check(t.Context(), target)
			if got.Up != tc.wantUp || got.Detail != tc.wantDetail {
				t.Errorf("Check(%+v) = up %v %q, want up %v %q", tc.check, got.Up, got.Detail, tc.wantUp, tc.wantDetail)
			}
			if got.RTT <= 0 || got.Time.IsZero() {
				t.Errorf("Check(%+v): RTT %v, Time %v; want both set", tc.check, got.RTT, got.Time)
			}
		})
	}
}

func TestHTTPCheckRedirectNotFollowed(t *testing.T) {
	b := newBackend(t, false)
	for _, tc := range []struct {
		expect string
		wantUp bool
	}{{"", true}, {"200", false}} {
		got := mustChecker(t, Check{Path: "/redirect", ExpectStatus: tc.expect}, CheckerOptions{}).Check(t.Context(), b.addr())
		if got.Up != tc.wantUp || got.Detail != "status 302" {
			t.Errorf("expect_status %q: Check = up %v %q, want up %v %q", tc.expect, got.Up, got.Detail, tc.wantUp, "status 302")
		}
	}
	if n := b.landed.Load(); n != 0 {
		t.Errorf("redirect target got %d requests, want 0", n)
	}
}

func TestHTTPCheckSendsHostMethodAndAgent(t *testing.T) {
	b := newBackend(t, false)
	c := Check{Path: "/echo?probe=1", Method: "HEAD", Host: "www.gslb.example"}
	got := mustChecker(t, c, CheckerOptions{UserAgent: "meridian-probe/test"}).Check(t.Context(), b.addr())
	if !got.Up {
		t.Fatalf("Check = %+v, want up", got)
	}
	r := <-b.lastReq
	if r.Host != "www.gslb.example" || r.Method != "HEAD" || r.URL.RequestURI() != "/echo?probe=1" || r.UserAgent() != "meridian-probe/test" {
		t.Errorf("backend saw Host %q, %s %s, User-Agent %q; want www.gslb.example, HEAD /echo?probe=1, meridian-probe/test",
			r.Host, r.Method, r.URL.RequestURI(), r.UserAgent())
	}
	if !r.Close {
		t.Errorf("request did not ask to close the connection; want keep-alives off")
	}
}

func TestHTTPCheckTimeout(t *testing.T) {
	b := newBackend(t, false)
	const timeout = 100 * time.Millisecond
	c := Check{Path: "/slow", Interval: Duration(time.Second), Timeout: Duration(timeout)}
	got := mustChecker(t, c, CheckerOptions{}).Check(t.Context(), b.addr())
	if got.Up || got.Detail != "timeout after 100ms" {
		t.Errorf("Check = up %v %q, want down %q", got.Up, got.Detail, "timeout after 100ms")
	}
	if got.RTT < timeout || got.RTT > 5*time.Second { // generous: the handler never answers, and CI machines stall
		t.Errorf("Check RTT = %v, want about %v", got.RTT, timeout)
	}
}

func TestHTTPCheckCanceled(t *testing.T) {
	b := newBackend(t, false)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	got := mustChecker(t, Check{}, CheckerOptions{}).Check(ctx, b.addr())
	if got.Up || got.Detail != "canceled" {
		t.Errorf("Check(canceled ctx) = up %v %q, want down %q", got.Up, got.Detail, "canceled")
	}
}

func TestHTTPCheckConnectionRefused(t *testing.T) {
	addr := closedPort(t)
	got := mustChecker(t, Check{}, CheckerOptions{}).Check(t.Context(), addr)
	if got.Up || got.Detail != "connect: connection refused" {
		t.Errorf("Check(closed port) = up %v %q, want down %q", got.Up, got.Detail, "connect: connection refused")
	}
}

// closedPort returns a loopback address where nothing listens: a port that was just freed.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestHTTPSCheck(t *testing.T) {
	b := newBackend(t, true)
	roots := x509.NewCertPool()
	roots.AddCert(b.srv.Certificate())
	trusted := CheckerOptions{TLSConfig: &tls.Config{RootCAs: roots}}

	tests := []struct {
		name       string
		check      Check
		opts       CheckerOptions
		wantUp     bool
		wantDetail string
	}{
		{"verified by IP", Check{Kind: KindHTTPS}, trusted, true, "status 200"},
		// httptest's certificate is for example.com and 127.0.0.1.
		{"host sets the server name", Check{Kind: KindHTTPS, Host: "example.com"}, trusted, true, "status 200"},
		{"host not in the certificate", Check{Kind: KindHTTPS, Host: "www.gslb.example"}, trusted, false, "tls: certificate not valid for the server name"},
		{"unknown authority", Check{Kind: KindHTTPS}, CheckerOptions{}, false, "tls: certificate signed by unknown authority"},
		{"skip verify", Check{Kind: KindHTTPS, TLSSkipVerify: true}, CheckerOptions{}, true, "status 200"},
		{"http to a TLS server", Check{}, CheckerOptions{}, false, "status 400"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := mustChecker(t, tc.check, tc.opts).Check(t.Context(), b.addr())
			if got.Up != tc.wantUp || got.Detail != tc.wantDetail {
				t.Errorf("Check = up %v %q, want up %v %q", got.Up, got.Detail, tc.wantUp, tc.wantDetail)
			}
		})
	}
}

func TestHTTPSCheckPlainServer(t *testing.T) {
	b := newBackend(t, false)
	got := mustChecker(t, Check{Kind: KindHTTPS}, CheckerOptions{}).Check(t.Context(), b.addr())
	if got.Up || !strings.Contains(got.Detail, "HTTP response to HTTPS client") {
		t.Errorf("Check(https to plain http) = up %v %q, want down mentioning the protocol mismatch", got.Up, got.Detail)
	}
}

func TestHTTPTransportIgnoresProxyEnvironment(t *testing.T) {
	for _, kind := range []Kind{KindHTTP, KindHTTPS} {
		h := mustChecker(t, Check{Kind: kind}, CheckerOptions{}).(*httpChecker)
		if h.transport.Proxy != nil {
			t.Errorf("%s transport has a Proxy func; want none (HTTP_PROXY must not apply to probes)", kind)
		}
		if h.transport == http.DefaultTransport || !h.transport.DisableKeepAlives {
			t.Errorf("%s transport: shared %v, keep-alives disabled %v; want own transport without keep-alives",
				kind, h.transport == http.DefaultTransport, h.transport.DisableKeepAlives)
		}
	}
}
