package store

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/meridian-gslb/meridian/gslb/store/internal/zapslog"
)

// ClientConfig configures Dial.
type ClientConfig struct {
	// Endpoints are the etcd client URLs. Required.
	Endpoints []string
	// TLS for https endpoints (client certificates included); nil for
	// plain http.
	TLS *tls.Config
	// Username and Password for etcd authentication; "" for none.
	Username, Password string
	// Logger receives the client's errors; nil discards them.
	Logger *slog.Logger
}

// Dial returns an etcd client set up for Meridian's servers, so that the
// binary needs no etcd import of its own. It does not wait for a
// connection: a server must start (and serve its state file) with etcd
// down. The caller closes the client.
func Dial(cfg ClientConfig) (*clientv3.Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("store: no etcd endpoints")
	}
	return clientv3.New(clientv3.Config{
		Endpoints: cfg.Endpoints,
		TLS:       cfg.TLS,
		Username:  cfg.Username,
		Password:  cfg.Password,
		// Keep-alive pings find a connection that died silently (a
		// partition drops packets rather than resetting connections)
		// within 15s; the store's own liveness read is the backstop.
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		PermitWithoutStream:  true,
		DialTimeout:          5 * time.Second,
		Logger:               zapslog.New(cfg.Logger, nil),
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			// gRPC's default reconnect backoff grows to two minutes:
			// after an etcd outage, servers would keep serving stale
			// state that long. Five seconds caps it like the store's own
			// retries.
			Backoff: backoff.Config{
				BaseDelay:  100 * time.Millisecond,
				Multiplier: 1.6,
				Jitter:     0.2,
				MaxDelay:   5 * time.Second,
			},
			MinConnectTimeout: 5 * time.Second,
		})},
	})
}
