package dnsserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
)

// listenGroup binds TCP and workers UDP sockets on addr. With more than
// one worker the UDP sockets share the port through SO_REUSEPORT, and the
// kernel spreads datagrams over them by a hash of the source address and
// port, so that each socket has its own reader goroutine. With port 0
// the kernel picks the TCP port and UDP binds the same one, retrying if it
// is taken.
func listenGroup(ctx context.Context, addr string, workers int) ([]net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	var lc, ulc net.ListenConfig
	if workers > 1 {
		ulc.Control = reusePort
	}
	for try := 0; ; try++ {
		l, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			return nil, nil, err
		}
		udpAddr := addr
		if port == "0" {
			udpAddr = net.JoinHostPort(host, fmt.Sprint(l.Addr().(*net.TCPAddr).Port))
		}
		var pcs []net.PacketConn
		for range workers {
			pc, err := ulc.ListenPacket(ctx, "udp", udpAddr)
			if err != nil {
				for _, pc := range pcs {
					pc.Close()
				}
				pcs = nil
				l.Close()
				if port != "0" || try == 10 || !errors.Is(err, syscall.EADDRINUSE) {
					return nil, nil, err
				}
				break
			}
			pcs = append(pcs, pc)
		}
		if pcs != nil {
			return pcs, l, nil
		}
	}
}
