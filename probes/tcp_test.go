package probes

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestTCPCheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	// The kernel completes the handshake from the backlog; nothing needs to Accept.
	open := ln.Addr().String()
	closed := closedPort(t)

	tests := []struct {
		name       string
		target     string
		opts       CheckerOptions
		wantUp     bool
		wantDetail string
	}{
		{"listening", open, CheckerOptions{}, true, "connected"},
		{"from a source address", open, CheckerOptions{SourceAddr: netip.MustParseAddr("127.0.0.1")}, true, "connected"},
		{"closed port", closed, CheckerOptions{}, false, "connect: connection refused"},
		{"no port", "127.0.0.1", CheckerOptions{}, false, `target "127.0.0.1" has no port and the check sets none`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := mustChecker(t, Check{Kind: KindTCP}, tc.opts).Check(t.Context(), tc.target)
			if got.Up != tc.wantUp || got.Detail != tc.wantDetail {
				t.Errorf("Check(%s) = up %v %q, want up %v %q", tc.target, got.Up, got.Detail, tc.wantUp, tc.wantDetail)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	live := attempt{ctx: t.Context(), timeout: time.Second}
	tests := []struct {
		name string
		a    attempt
		err  error
		want string
	}{
		{"refused", live, &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}, "connect: connection refused"},
		{"unreachable", live, &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.EHOSTUNREACH}}, "connect: no route to host"},
		{"reset on read", live, &url.Error{Op: "Get", URL: "http://192.0.2.1/healthz", Err: &net.OpError{Op: "read", Err: syscall.ECONNRESET}}, "read: connection reset by peer"},
		{"no such host", live, &url.Error{Op: "Get", URL: "http://x.invalid/", Err: &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}}}, "resolve: no such host"},
		{"net timeout", live, &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, "timeout after 1s"},
		{"canceled", attempt{ctx: ctx, timeout: time.Second}, context.Canceled, "canceled"},
		{"long text is cut", live, errors.New(strings.Repeat("word ", 40)), strings.Repeat("word ", 24)[:120] + "…"},
		{"one line", live, errors.New("a\n  b"), "a b"},
	}
	for _, tc := range tests {
		if got := tc.a.describe(tc.err); got != tc.want {
			t.Errorf("%s: describe(%v) = %q, want %q", tc.name, tc.err, got, tc.want)
		}
	}
}
