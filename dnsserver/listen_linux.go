package dnsserver

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// reusePortSupported says whether Options.Workers may exceed 1.
const reusePortSupported = true

// reusePort is a net.ListenConfig.Control that sets SO_REUSEPORT.
func reusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}); err != nil {
		return err
	}
	return serr
}
