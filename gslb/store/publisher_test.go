package store

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/meridian-gslb/meridian/gslb/store/etcdtest"
)

// leased returns the value of key and its lease (0 when absent).
func leased(t *testing.T, cli *clientv3.Client, key string) (string, clientv3.LeaseID) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	resp, err := cli.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	if len(resp.Kvs) == 0 {
		return "", 0
	}
	return string(resp.Kvs[0].Value), clientv3.LeaseID(resp.Kvs[0].Lease)
}

func runPublisher(t *testing.T, p *Publisher) (cancel func()) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := p.Run(ctx); err != nil {
			t.Errorf("Publisher.Run: %v", err)
		}
	}()
	cancel = func() {
		stop()
		select {
		case <-done:
		case <-time.After(waitLimit):
			t.Fatalf("Publisher.Run did not return after its context ended")
		}
	}
	t.Cleanup(cancel)
	return cancel
}

func TestPublisher(t *testing.T) {
	srv := etcdtest.Shared(t)
	cli := etcdtest.Client(t, srv)
	prefix := etcdtest.Prefix(t)
	beat := prefix + "status/proxies/eu-west/proxy-1"
	probe := prefix + "status/probes/probe-1/127.0.0.11"
	log, _ := newLogger(t)
	p := NewPublisher(etcdtest.Client(t, srv), 2*time.Second, log)

	p.Set(beat, []byte("v1")) // before Run: written once the lease exists
	stop := runPublisher(t, p)
	waitFor(t, "the heartbeat", func() bool { v, l := leased(t, cli, beat); return v == "v1" && l != 0 })

	p.Set(beat, []byte("v1")) // unchanged: no write
	p.Set(probe, []byte(`{"up":true}`))
	waitFor(t, "the probe result", func() bool { v, _ := leased(t, cli, probe); return v != "" })
	// Writes counts after etcd answers, so it may lag what a reader sees.
	waitFor(t, "two writes", func() bool { return p.Writes() >= 2 })
	if got := p.Writes(); got != 2 {
		t.Errorf("Writes() = %d after two distinct keys and one repeated value, want 2", got)
	}
	p.Set(beat, []byte("v2"))
	waitFor(t, "the new value", func() bool { v, _ := leased(t, cli, beat); return v == "v2" })
	p.Delete(probe)
	waitFor(t, "the withdrawn key to go", func() bool { v, _ := leased(t, cli, probe); return v == "" })
	waitFor(t, "four writes", func() bool { return p.Writes() >= 4 })
	if got := p.Writes(); got != 4 {
		t.Errorf("Writes() = %d, want 4", got)
	}

	// The lease vanishes under the publisher (as after a partition longer
	// than the TTL): the key goes, then comes back on a new lease.
	_, lease := leased(t, cli, beat)
	if _, err := cli.Revoke(t.Context(), lease); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	waitFor(t, "the key back on a new lease", func() bool {
		v, l := leased(t, cli, beat)
		return v == "v2" && l != 0 && l != lease
	})
	if v, _ := leased(t, cli, probe); v != "" {
		t.Errorf("withdrawn key %s came back with the new lease", probe)
	}

	// A clean shutdown revokes the lease: the key is gone at once.
	stop()
	if v, _ := leased(t, cli, beat); v != "" {
		t.Errorf("key %s = %q after Run returned, want it gone", beat, v)
	}
	if err := p.Run(t.Context()); err == nil {
		t.Errorf("second Run: no error")
	}
}

// TestPublisherEtcdRestart stops etcd for longer than the lease TTL: the
// client gives the lease up, and once etcd is back the publisher grants a
// new one and writes its keys again.
func TestPublisherEtcdRestart(t *testing.T) {
	srv := etcdtest.New(t)
	etcdtest.RequireEmbedded(t, srv)
	cli := etcdtest.Client(t, srv)
	key := etcdtest.Prefix(t) + "status/proxies/eu-west/proxy-1"
	log, logs := newLogger(t)
	p := NewPublisher(etcdtest.Client(t, srv), time.Second, log)
	p.Set(key, []byte("v1"))
	runPublisher(t, p)
	waitFor(t, "the key", func() bool { v, _ := leased(t, cli, key); return v == "v1" })
	_, lease := leased(t, cli, key)

	srv.Stop()
	waitFor(t, "the publisher to give the lease up", func() bool { return logs.contains("lease lost") })
	p.Set(key, []byte("v2")) // changed while etcd is down
	if err := srv.Restart(t.Context()); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	waitFor(t, "the key on a new lease", func() bool {
		v, l := leased(t, cli, key)
		return v == "v2" && l != 0 && l != lease
	})
}
