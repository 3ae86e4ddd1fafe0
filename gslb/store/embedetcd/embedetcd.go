// Package embedetcd runs a single-member etcd inside the process, on
// loopback only: the keyspace behind `meridian dev`, and the etcd of the
// integration tests of every package (through package etcdtest).
//
// Invariants:
//   - it listens on loopback addresses only (127.0.0.0/8, ::1, localhost);
//     Start refuses anything else, because a dev etcd has no auth and no TLS;
//   - Stop closes the server exactly once however often it is called;
//     Restart starts it again on the same directory and the same URLs, so
//     clients reconnect on their own and the data (revisions, leases) is
//     still there, as after a real etcd restart;
//   - etcd's own logging is reduced to errors, forwarded to Config.Logger.
//
// Usage:
//
//	srv, err := embedetcd.Start(ctx, embedetcd.Config{Dir: dir, ClientURL: "http://127.0.0.1:2379"})
//	if err != nil { ... }
//	defer srv.Stop()
//	cli, err := srv.Client()
//	if err != nil { ... }
//	defer cli.Close()
package embedetcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/meridian-gslb/meridian/gslb/store/internal/zapslog"
)

// ErrExternal is returned by Restart on a Server made by Attach: the
// process does not own that etcd and cannot stop or start it.
var ErrExternal = errors.New("embedetcd: not an embedded server (attached to an external etcd)")

// readyTimeout bounds the wait for the member to elect itself and serve.
// A single member on loopback is ready in well under a second; ten is for
// a loaded CI machine replaying a large WAL.
const readyTimeout = 10 * time.Second

// quotaBytes caps the backend database. The dev keyspace is kilobytes and
// its history is compacted hourly; 256 MiB is room for days of heartbeat
// churn while a forgotten dev server cannot fill the disk.
const quotaBytes = 256 << 20

// Config configures an embedded server.
type Config struct {
	// Dir is the data directory (created if missing). Required.
	Dir string
	// ClientURL is where clients connect, e.g. "http://127.0.0.1:2379".
	// "" picks a free loopback port.
	ClientURL string
	// PeerURL is the raft peer URL (unused by a single member but
	// required by etcd). "" picks a free loopback port.
	PeerURL string
	// Logger receives etcd's errors. nil discards them.
	Logger *slog.Logger
	// NoFsync skips fsync: much faster, and loses data on a machine crash
	// (not on a process crash). For tests.
	NoFsync bool
}

// Server is a running (or stopped) embedded etcd, or a handle on an
// external one (Attach).
type Server struct {
	cfg       Config
	endpoints []string
	external  bool

	mu sync.Mutex
	e  *embed.Etcd // nil while stopped
	// stopStreams ends every open grpc stream (watches, lease
	// keep-alives) of the running instance; see streamInterceptor.
	stopStreams context.CancelFunc
	// closing mutes etcd's logs while it shuts down.
	closing atomic.Bool
}

// Start starts a single-member etcd and waits until it serves.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, errors.New("embedetcd: Config.Dir is required")
	}
	var err error
	if cfg.ClientURL, err = loopbackURL(cfg.ClientURL); err != nil {
		return nil, fmt.Errorf("embedetcd: client URL: %w", err)
	}
	if cfg.PeerURL, err = loopbackURL(cfg.PeerURL); err != nil {
		return nil, fmt.Errorf("embedetcd: peer URL: %w", err)
	}
	s := &Server{cfg: cfg, endpoints: []string{cfg.ClientURL}}
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Attach returns a Server for an etcd this process does not run (for
// tests against an external etcd): Endpoints and Client work, Stop does
// nothing and Restart returns ErrExternal.
func Attach(endpoints []string) *Server {
	return &Server{endpoints: append([]string(nil), endpoints...), external: true}
}

// External reports whether s was made by Attach.
func (s *Server) External() bool { return s.external }

// Endpoints returns the client URLs.
func (s *Server) Endpoints() []string { return append([]string(nil), s.endpoints...) }

// Client returns a new client of the server; the caller closes it. It logs
// nothing below error and reconnects quickly after a restart (the grpc
// default backoff grows to two minutes, far too long for a loopback
// server that was just restarted).
func (s *Server) Client() (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   s.Endpoints(),
		DialTimeout: 5 * time.Second,
		Logger:      zapslog.New(s.cfg.Logger, nil),
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay:  50 * time.Millisecond,
				Multiplier: 1.6,
				Jitter:     0.2,
				MaxDelay:   time.Second,
			},
			MinConnectTimeout: time.Second,
		})},
	})
}

// Stop stops the server. It is safe to call more than once, and on a
// stopped or attached server.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.e != nil {
		s.closing.Store(true)
		s.stopStreams()
		s.e.Close()
		s.e = nil
	}
}

// Restart stops the server if it runs, then starts it again on the same
// directory and URLs.
func (s *Server) Restart(ctx context.Context) error {
	if s.external {
		return ErrExternal
	}
	s.Stop()
	return s.start(ctx)
}

func (s *Server) start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.e != nil {
		return nil
	}
	ecfg, err := s.embedConfig()
	if err != nil {
		return err
	}
	streams, stopStreams := context.WithCancel(context.Background())
	ecfg.GRPCAdditionalServerOptions = []grpc.ServerOption{grpc.ChainStreamInterceptor(streamInterceptor(streams))}
	e, err := embed.StartEtcd(ecfg)
	if err != nil {
		stopStreams()
		return fmt.Errorf("embedetcd: start in %s: %w", s.cfg.Dir, err)
	}
	s.closing.Store(false)
	fail := func() {
		s.closing.Store(true)
		stopStreams()
		e.Server.Stop()
		e.Close()
	}
	t := time.NewTimer(readyTimeout)
	defer t.Stop()
	select {
	case <-e.Server.ReadyNotify():
		s.e, s.stopStreams = e, stopStreams
		return nil
	case err := <-e.Err():
		fail()
		return fmt.Errorf("embedetcd: start in %s: %w", s.cfg.Dir, err)
	case <-t.C:
		fail()
		return fmt.Errorf("embedetcd: start in %s: not ready after %s", s.cfg.Dir, readyTimeout)
	case <-ctx.Done():
		fail()
		return fmt.Errorf("embedetcd: start in %s: %w", s.cfg.Dir, ctx.Err())
	}
}

// streamInterceptor ends every grpc stream when stop is cancelled. etcd's
// Close stops its grpc server gracefully and waits up to its request
// timeout (5s + two election timeouts, 7s here) for open streams to
// finish; a client's watch never finishes on its own, so without this
// every Stop with a connected client would take 7s. Ending the streams
// first makes Stop take milliseconds, and the clients see what they see
// when a real etcd goes away: the stream breaks, they reconnect.
func streamInterceptor(stop context.Context) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, cancel := context.WithCancel(ss.Context())
		defer cancel()
		defer context.AfterFunc(stop, cancel)()
		return handler(srv, ctxStream{ServerStream: ss, ctx: ctx})
	}
}

type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s ctxStream) Context() context.Context { return s.ctx }

func (s *Server) embedConfig() (*embed.Config, error) {
	cu, err := url.Parse(s.cfg.ClientURL)
	if err != nil {
		return nil, err
	}
	pu, err := url.Parse(s.cfg.PeerURL)
	if err != nil {
		return nil, err
	}
	c := embed.NewConfig()
	c.Name = "meridian"
	c.Dir = s.cfg.Dir
	c.ListenClientUrls = []url.URL{*cu}
	c.AdvertiseClientUrls = []url.URL{*cu}
	c.ListenPeerUrls = []url.URL{*pu}
	c.AdvertisePeerUrls = []url.URL{*pu}
	c.InitialCluster = c.InitialClusterFromName(c.Name)
	c.InitialClusterToken = "meridian-dev"
	c.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zapslog.New(s.cfg.Logger, &s.closing))
	c.LogLevel = "error"
	c.QuotaBackendBytes = quotaBytes
	c.UnsafeNoFsync = s.cfg.NoFsync
	// Compact hourly so heartbeat and probe churn does not grow the
	// database without bound; watchers that fall behind relist.
	c.AutoCompactionMode = embed.CompactorModePeriodic
	c.AutoCompactionRetention = "1h"
	return c, nil
}

// loopbackURL returns raw, or a free loopback URL when raw is empty, and
// refuses anything that is not http on a loopback host with a port.
func loopbackURL(raw string) (string, error) {
	if raw == "" {
		port, err := freePort()
		if err != nil {
			return "", err
		}
		return "http://" + net.JoinHostPort("127.0.0.1", port), nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" {
		return "", fmt.Errorf("%q: want http:// (a dev etcd has no TLS)", raw)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || port == "" {
		return "", fmt.Errorf("%q: want http://host:port", raw)
	}
	if host != "localhost" {
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return "", fmt.Errorf("%q: not a loopback address; an embedded etcd has no auth and listens on loopback only", raw)
		}
	}
	return raw, nil
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before etcd binds it; on loopback in a test run that is rare, and
// etcd then fails to start with a clear "address already in use".
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}
