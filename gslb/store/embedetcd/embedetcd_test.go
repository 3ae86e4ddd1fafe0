package embedetcd

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestStartRestartStop(t *testing.T) {
	var logs bytes.Buffer
	srv, err := Start(t.Context(), Config{Dir: t.TempDir(), NoFsync: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer srv.Stop()
	if eps := srv.Endpoints(); len(eps) != 1 || !strings.HasPrefix(eps[0], "http://127.0.0.1:") {
		t.Errorf("Endpoints() = %v, want one loopback URL", eps)
	}
	cli, err := srv.Client()
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	put, err := cli.Put(ctx, "/k", "v")
	if err != nil {
		t.Fatalf("Put: %v", err)
	}

	// A watch open across the restart must not hold up Stop (etcd alone
	// would wait seven seconds for it).
	_ = cli.Watch(clientv3.WithRequireLeader(ctx), "/k")
	start := time.Now()
	srv.Stop()
	srv.Stop() // idempotent
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Stop with an open watch took %s", d)
	}
	if err := srv.Restart(ctx); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	resp, err := cli.Get(ctx, "/k")
	if err != nil {
		t.Fatalf("Get after restart: %v", err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" || resp.Kvs[0].ModRevision != put.Header.Revision {
		t.Errorf("after restart /k = %v, want v at revision %d", resp.Kvs, put.Header.Revision)
	}
	if err := srv.Restart(ctx); err != nil { // restart while running
		t.Fatalf("second Restart: %v", err)
	}
	srv.Stop()
	if _, err := cli.Get(ctxTimeout(t, 300*time.Millisecond), "/k"); err == nil {
		t.Errorf("Get after Stop succeeded")
	}
	// A clean start, restart and stop is not an error.
	if logs.Len() != 0 {
		t.Errorf("etcd logged errors:\n%s", logs.String())
	}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestStartRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no dir", Config{}, "Dir is required"},
		{"all interfaces", Config{Dir: t.TempDir(), ClientURL: "http://0.0.0.0:2379"}, "not a loopback address"},
		{"public peer", Config{Dir: t.TempDir(), PeerURL: "http://192.0.2.1:2380"}, "not a loopback address"},
		{"tls", Config{Dir: t.TempDir(), ClientURL: "https://127.0.0.1:2379"}, "want http://"},
		{"no port", Config{Dir: t.TempDir(), ClientURL: "http://127.0.0.1"}, "want http://host:port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := Start(t.Context(), tc.cfg)
			if err == nil {
				srv.Stop()
				t.Fatalf("Start(%+v): no error", tc.cfg)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Start(%+v) = %v, want an error containing %q", tc.cfg, err, tc.want)
			}
		})
	}
}

func TestPortInUse(t *testing.T) {
	a, err := Start(t.Context(), Config{Dir: t.TempDir(), NoFsync: true})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer a.Stop()
	b, err := Start(t.Context(), Config{Dir: t.TempDir(), NoFsync: true, ClientURL: a.Endpoints()[0]})
	if err == nil {
		b.Stop()
		t.Fatalf("second server on %s: no error", a.Endpoints()[0])
	}
}

func TestAttach(t *testing.T) {
	srv := Attach([]string{"http://127.0.0.1:1"})
	if !srv.External() {
		t.Errorf("External() = false for an attached server")
	}
	srv.Stop() // no-op
	if err := srv.Restart(t.Context()); !errors.Is(err, ErrExternal) {
		t.Errorf("Restart() = %v, want ErrExternal", err)
	}
	cli, err := srv.Client()
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	cli.Close()
}
