package probes

import (
	"context"
	"net"
	"time"
)

// tcpChecker is up when a TCP connection to the target completes; it sends nothing.
type tcpChecker struct {
	check  Check
	dialer *net.Dialer
}

func (t *tcpChecker) Check(ctx context.Context, target string) Result {
	a, cancel := startAttempt(ctx, time.Duration(t.check.Timeout))
	defer cancel()
	addr, err := targetAddr(target, t.check)
	if err != nil {
		return a.down(shorten(err.Error()))
	}
	conn, err := t.dialer.DialContext(a.ctx, "tcp", addr)
	if err != nil {
		return a.fail(err)
	}
	r := a.up("connected")
	_ = conn.Close() // the handshake was the check; a close error says nothing about the target
	return r
}
