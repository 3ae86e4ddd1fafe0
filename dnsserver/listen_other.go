//go:build !linux

package dnsserver

import (
	"errors"
	"syscall"
)

// reusePortSupported says whether Options.Workers may exceed 1: the
// kernel's load balancing over SO_REUSEPORT sockets is Linux's.
const reusePortSupported = false

func reusePort(_, _ string, _ syscall.RawConn) error {
	return errors.New("dnsserver: SO_REUSEPORT workers need Linux")
}
