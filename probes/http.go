package probes

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// httpChecker sends one request per check over a fresh connection and judges the status code
// and, optionally, the start of the body.
type httpChecker struct {
	check     Check
	scheme    string
	status    []statusRange
	userAgent string
	transport *http.Transport
	client    *http.Client
}

func newHTTPChecker(c Check, opts CheckerOptions) (*httpChecker, error) {
	status, err := parseStatusRanges(c.ExpectStatus)
	if err != nil {
		return nil, fmt.Errorf("expect_status: %w", err)
	}
	tr := &http.Transport{
		// Never HTTP_PROXY and friends from the environment: a probe must reach the target
		// itself, or it measures the proxy.
		Proxy:       nil,
		DialContext: newDialer(opts.SourceAddr, "tcp").DialContext,
		// A new connection per check, as HAProxy and Consul do: the check then also proves the
		// target still accepts connections, a stale pooled connection cannot fail (or pass) a
		// check, and there is nothing to close when the checker is dropped.
		DisableKeepAlives: true,
		// Ask for the body as the server stores it, so expect_body matches what was sent.
		DisableCompression: true,
		// Health responses are small; refuse to buffer a huge header block (Go's default is 1 MB).
		MaxResponseHeaderBytes: 64 << 10,
		// Dial, TLS handshake and response headers are all bounded by the check's context
		// deadline, so there are no separate timeouts here.
	}
	if c.Kind == KindHTTPS {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if opts.TLSConfig != nil {
			cfg = opts.TLSConfig.Clone()
		}
		if c.Host != "" {
			// The Host header names the virtual host; verify the certificate for the same name
			// (targets are usually IP addresses, which certificates rarely carry).
			cfg.ServerName = hostOnly(c.Host)
		}
		if c.TLSSkipVerify {
			cfg.InsecureSkipVerify = true //nolint:gosec // opt-in per check, for backends with self-signed certificates
		}
		tr.TLSClientConfig = cfg
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = defaultUserAgent
	}
	return &httpChecker{
		check:     c,
		scheme:    string(c.Kind),
		status:    status,
		userAgent: ua,
		transport: tr,
		client: &http.Client{
			Transport: tr,
			// A redirect is an answer, judged by expect_status; following it would probe some
			// other server.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

func (h *httpChecker) Check(ctx context.Context, target string) Result {
	a, cancel := startAttempt(ctx, time.Duration(h.check.Timeout))
	defer cancel()
	addr, err := targetAddr(target, h.check)
	if err != nil {
		return a.down(shorten(err.Error()))
	}
	req, err := http.NewRequestWithContext(a.ctx, h.check.Method, h.scheme+"://"+addr+h.check.Path, nil)
	if err != nil {
		return a.down("bad request: " + shorten(err.Error()))
	}
	if h.check.Host != "" {
		req.Host = h.check.Host
	}
	req.Header.Set("User-Agent", h.userAgent)

	resp, err := h.client.Do(req)
	if err != nil {
		return a.fail(err)
	}
	// Closing without draining is fine: keep-alives are off, so the connection is not reused.
	defer resp.Body.Close()

	status := fmt.Sprintf("status %d", resp.StatusCode)
	if !statusOK(h.status, resp.StatusCode) {
		return a.down(status)
	}
	if h.check.ExpectBody != "" {
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
		if err != nil {
			return a.down("read body: " + a.describe(err))
		}
		if !bytes.Contains(body, []byte(h.check.ExpectBody)) {
			// Neither the body nor the expected string goes into the detail: both can be long
			// or sensitive.
			return a.down(status + ", body does not contain expect_body")
		}
	}
	return a.up(status)
}
