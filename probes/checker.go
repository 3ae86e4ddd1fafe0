package probes

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Result is the outcome of one check.
type Result struct {
	Up     bool
	RTT    time.Duration // from the start of the check until it was decided
	Detail string        // short and safe to log: "status 503", "connect: connection refused", "timeout after 1s"
	Time   time.Time     // when the check started
}

// Checker runs one kind of check against a target.
type Checker interface {
	// Check checks target ("host:port", "host", "[v6]:port") once and returns the result. It
	// returns within the check's timeout, or sooner when ctx is done, and never panics on a
	// misbehaving target. A result produced because ctx was cancelled says nothing about the
	// target; callers should drop it (Monitor does).
	Check(ctx context.Context, target string) Result
}

// CheckerOptions are process-level settings shared by every check, as opposed to Check, which
// comes from policy.
type CheckerOptions struct {
	// SourceAddr, when valid, is the local address probes are sent from (a prober with several
	// uplinks, or a proxy that must probe from its backend-facing address).
	SourceAddr netip.Addr
	// TLSConfig, when set, is cloned as the base for https checks: root CAs, client certificates.
	// Check.TLSSkipVerify and Check.Host are applied on top of the clone.
	TLSConfig *tls.Config
	// UserAgent sent by http checks; default "meridian-probe".
	UserAgent string
}

const defaultUserAgent = "meridian-probe"

// NewChecker returns a Checker for c after WithDefaults, or the Validate error.
func NewChecker(c Check, opts CheckerOptions) (Checker, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	switch c.Kind {
	case KindHTTP, KindHTTPS:
		return newHTTPChecker(c, opts)
	case KindTCP:
		return &tcpChecker{check: c, dialer: newDialer(opts.SourceAddr, "tcp")}, nil
	case KindDNS:
		return newDNSChecker(c, opts)
	}
	panic("unreachable: Validate accepted kind " + string(c.Kind))
}

func newDialer(src netip.Addr, network string) *net.Dialer {
	// No dial timeout here: every dial runs under the check's context deadline.
	d := &net.Dialer{KeepAlive: -1} // a probe connection lives for one check; no TCP keep-alive
	if src.IsValid() {
		ip := src.AsSlice()
		switch network {
		case "udp":
			d.LocalAddr = &net.UDPAddr{IP: ip, Zone: src.Zone()}
		default:
			d.LocalAddr = &net.TCPAddr{IP: ip, Zone: src.Zone()}
		}
	}
	return d
}

// defaultPort is the port used when neither the target nor the check names one.
func defaultPort(k Kind) int {
	switch k {
	case KindHTTP:
		return 80
	case KindHTTPS:
		return 443
	case KindDNS:
		return 53
	}
	return 0
}

// targetAddr returns the host:port that c sends its probe to for target: the target's host,
// with c.Port if set, else the target's port, else the kind's well-known port (80, 443, 53).
// A tcp check of a target without a port and no c.Port is an error.
func targetAddr(target string, c Check) (string, error) {
	c = c.WithDefaults()
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		// No port: "host", "192.0.2.1", "2001:db8::1" or "[2001:db8::1]".
		host, port = strings.TrimSuffix(strings.TrimPrefix(target, "["), "]"), ""
		if strings.ContainsAny(host, "[]/ ") || (strings.Contains(host, ":") && !isIP(host)) {
			return "", fmt.Errorf("target %q is not host or host:port", target)
		}
	}
	if host == "" {
		return "", fmt.Errorf("target %q has no host", target)
	}
	switch {
	case c.Port != 0:
		port = strconv.Itoa(c.Port)
	case port == "" && defaultPort(c.Kind) != 0:
		port = strconv.Itoa(defaultPort(c.Kind))
	case port == "":
		return "", fmt.Errorf("target %q has no port and the check sets none", target)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("target %q: bad port %q", target, port)
	}
	return net.JoinHostPort(host, port), nil
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// attempt bounds one check by timeout and turns its error into a Result.
type attempt struct {
	ctx     context.Context
	start   time.Time
	timeout time.Duration
}

func startAttempt(parent context.Context, timeout time.Duration) (attempt, context.CancelFunc) {
	start := time.Now()
	ctx, cancel := context.WithDeadline(parent, start.Add(timeout))
	return attempt{ctx: ctx, start: start, timeout: timeout}, cancel
}

func (a attempt) up(detail string) Result   { return a.result(true, detail) }
func (a attempt) down(detail string) Result { return a.result(false, detail) }

func (a attempt) result(up bool, detail string) Result {
	return Result{Up: up, RTT: time.Since(a.start), Detail: detail, Time: a.start}
}

// fail returns a down Result whose Detail describes err briefly.
func (a attempt) fail(err error) Result { return a.down(a.describe(err)) }

// describe turns an error from a dial, TLS handshake, HTTP exchange or DNS exchange into a
// short detail without URLs or addresses: operators see it in logs and etcd, often next to
// the target, so repeating the target only makes it longer.
func (a attempt) describe(err error) string {
	if errors.Is(a.ctx.Err(), context.DeadlineExceeded) || isTimeout(err) {
		return "timeout after " + a.timeout.String()
	}
	if errors.Is(err, context.Canceled) || a.ctx.Err() != nil {
		return "canceled"
	}
	var (
		dnsErr   *net.DNSError
		opErr    *net.OpError
		certErr  *tls.CertificateVerificationError
		unknownA x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		invalid  x509.CertificateInvalidError
		recErr   tls.RecordHeaderError
		alertErr tls.AlertError
		errno    syscall.Errno
	)
	switch {
	case errors.As(err, &dnsErr):
		return "resolve: " + dnsErr.Err
	case errors.As(err, &unknownA):
		return "tls: certificate signed by unknown authority"
	case errors.As(err, &hostErr):
		return "tls: certificate not valid for the server name"
	case errors.As(err, &invalid):
		return "tls: " + strings.TrimPrefix(invalid.Error(), "x509: ")
	case errors.As(err, &certErr):
		return "tls: certificate verification failed"
	case errors.As(err, &recErr):
		return "tls: server did not answer with TLS"
	case errors.As(err, &alertErr):
		return "tls: " + alertErr.Error()
	case errors.As(err, &opErr):
		op := opErr.Op
		if op == "dial" {
			op = "connect"
		}
		if errors.As(err, &errno) {
			return op + ": " + errno.Error()
		}
		return op + ": " + shorten(opErr.Err.Error())
	}
	return shorten(err.Error())
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// shorten keeps details to one short line.
func shorten(s string) string {
	const maxDetail = 120
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxDetail {
		s = strings.ToValidUTF8(s[:maxDetail], "") + "…"
	}
	return s
}
