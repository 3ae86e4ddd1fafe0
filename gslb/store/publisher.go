package store

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// DefaultPublisherTTL is the lease TTL when NewPublisher is given none:
// how long a crashed instance's keys outlive it. Ten seconds is three
// keep-alives (the client sends one every TTL/3), so one lost packet does
// not drop a healthy proxy, while a dead one is gone well within a DNS TTL.
const DefaultPublisherTTL = 10 * time.Second

// revokeTimeout bounds the lease revoke on shutdown: long enough for a
// healthy etcd, short enough not to hold up a SIGTERM when etcd is gone
// (the lease then expires on its own).
const revokeTimeout = 2 * time.Second

// Publisher keeps keys alive on one lease: proxies publish
// status/proxies/<region>/<instance>, probers status/probes/<prober>/
// <target>. Set and Delete are cheap and may be called at any time, from
// any goroutine; Run does the writing. The keys vanish when the process
// stops: at once on a clean shutdown (the lease is revoked), within the
// TTL on a crash (the lease expires).
type Publisher struct {
	client         *clientv3.Client
	ttl            int64 // seconds
	log            *slog.Logger
	requestTimeout time.Duration

	mu   sync.Mutex
	want map[string][]byte
	kick chan struct{}

	writes  atomic.Uint64
	running atomic.Bool
}

// NewPublisher returns a Publisher whose keys live on one lease of the
// given TTL (rounded up to whole seconds; DefaultPublisherTTL when zero).
func NewPublisher(client *clientv3.Client, ttl time.Duration, logger *slog.Logger) *Publisher {
	if ttl <= 0 {
		ttl = DefaultPublisherTTL
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Publisher{
		client:         client,
		ttl:            int64((ttl + time.Second - 1) / time.Second),
		log:            logger,
		requestTimeout: DefaultRequestTimeout,
		want:           map[string][]byte{},
		kick:           make(chan struct{}, 1),
	}
}

// Set publishes value at key (a full etcd key). Nothing is written when
// the value is the one already published.
func (p *Publisher) Set(key string, value []byte) {
	p.mu.Lock()
	if old, ok := p.want[key]; ok && bytes.Equal(old, value) {
		p.mu.Unlock()
		return
	}
	p.want[key] = bytes.Clone(value)
	p.mu.Unlock()
	p.poke()
}

// Delete withdraws key.
func (p *Publisher) Delete(key string) {
	p.mu.Lock()
	if _, ok := p.want[key]; !ok {
		p.mu.Unlock()
		return
	}
	delete(p.want, key)
	p.mu.Unlock()
	p.poke()
}

// Writes returns the number of puts and deletes sent to etcd so far.
func (p *Publisher) Writes() uint64 { return p.writes.Load() }

func (p *Publisher) poke() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Run grants the lease, keeps it alive and writes the keys, until ctx
// ends; then it revokes the lease, so the keys disappear at once, and
// returns nil. When the lease is lost (etcd restarted from a snapshot
// without it, or unreachable for longer than the TTL) it grants a new one
// and writes every key again. Run may be called once.
func (p *Publisher) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("store: Publisher.Run called twice")
	}
	// stale holds keys written under a lease that was lost, with that
	// lease: a key withdrawn meanwhile must still be deleted if it
	// survived.
	stale := map[string]clientv3.LeaseID{}
	attempt := 0
	warned := false
	for {
		id, err := p.grant(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !warned {
				p.log.Warn("cannot grant a lease; retrying", "err", err)
				warned = true
			}
			if !sleep(ctx, retryDelay(attempt)) {
				return nil
			}
			attempt++
			continue
		}
		attempt, warned = 0, false
		p.serve(ctx, id, stale)
		if ctx.Err() != nil {
			p.revoke(ctx, id)
			return nil
		}
		if !sleep(ctx, retryDelay(0)) {
			return nil
		}
	}
}

func (p *Publisher) grant(ctx context.Context) (clientv3.LeaseID, error) {
	gctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(ctx), p.requestTimeout)
	defer cancel()
	resp, err := p.client.Grant(gctx, p.ttl)
	if err != nil {
		return 0, err
	}
	return resp.ID, nil
}

func (p *Publisher) revoke(ctx context.Context, id clientv3.LeaseID) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revokeTimeout)
	defer cancel()
	if _, err := p.client.Revoke(rctx, id); err != nil {
		p.log.Warn("cannot revoke the lease; its keys expire within the TTL", "err", err)
	}
}

// serve keeps lease id alive and the keys written under it until the lease
// is lost or ctx ends. On return, stale holds every key written under id.
func (p *Publisher) serve(ctx context.Context, id clientv3.LeaseID, stale map[string]clientv3.LeaseID) {
	kctx, cancel := context.WithCancel(ctx)
	defer cancel()
	written := map[string][]byte{}
	defer func() {
		for k := range written {
			stale[k] = id
		}
	}()
	ka, err := p.client.KeepAlive(kctx, id)
	if err != nil {
		p.log.Warn("cannot keep the lease alive", "err", err)
		return
	}
	var retry *time.Timer
	defer func() {
		if retry != nil {
			retry.Stop()
		}
	}()
	var retryC <-chan time.Time
	failures := 0
	dirty := true
	for {
		if dirty {
			dirty = false
			err := p.sync(ctx, id, written, stale)
			switch {
			case err == nil:
				failures = 0
			case ctx.Err() != nil:
				return
			case errors.Is(err, rpctypes.ErrLeaseNotFound):
				p.log.Warn("lease lost; granting a new one and writing every key again", "err", err)
				return
			default:
				if failures == 0 {
					p.log.Warn("cannot publish; retrying", "err", err)
				}
				if retry != nil {
					retry.Stop()
				}
				retry = time.NewTimer(retryDelay(failures))
				retryC = retry.C
				failures++
			}
		}
		select {
		case <-ctx.Done():
			return
		case _, ok := <-ka:
			if !ok {
				if ctx.Err() == nil {
					p.log.Warn("lease lost; granting a new one and writing every key again")
				}
				return
			}
		case <-p.kick:
			dirty = true
		case <-retryC:
			retryC = nil
			dirty = true
		}
	}
}

// sync makes etcd hold what Set and Delete asked for: puts the keys whose
// value changed since written under lease id, deletes the withdrawn ones.
func (p *Publisher) sync(ctx context.Context, id clientv3.LeaseID, written map[string][]byte, stale map[string]clientv3.LeaseID) error {
	p.mu.Lock()
	want := maps.Clone(p.want)
	p.mu.Unlock()
	for _, k := range slices.Sorted(maps.Keys(want)) {
		v := want[k]
		if w, ok := written[k]; ok && bytes.Equal(w, v) {
			continue
		}
		if err := p.put(ctx, k, v, id); err != nil {
			return err
		}
		written[k] = v
		delete(stale, k)
	}
	for _, k := range slices.Sorted(maps.Keys(written)) {
		if _, ok := want[k]; ok {
			continue
		}
		if err := p.deleteOwned(ctx, k, id); err != nil {
			return err
		}
		delete(written, k)
	}
	for _, k := range slices.Sorted(maps.Keys(stale)) {
		if _, ok := want[k]; !ok {
			if err := p.deleteOwned(ctx, k, stale[k]); err != nil {
				return err
			}
		}
		delete(stale, k)
	}
	return nil
}

func (p *Publisher) put(ctx context.Context, k string, v []byte, id clientv3.LeaseID) error {
	octx, cancel := context.WithTimeout(clientv3.WithRequireLeader(ctx), p.requestTimeout)
	defer cancel()
	if _, err := p.client.Put(octx, k, string(v), clientv3.WithLease(id)); err != nil {
		return err
	}
	p.writes.Add(1)
	return nil
}

// deleteOwned deletes k if it is still on lease id: another instance
// (a restarted proxy with the same id, say) may have taken it over.
func (p *Publisher) deleteOwned(ctx context.Context, k string, id clientv3.LeaseID) error {
	octx, cancel := context.WithTimeout(clientv3.WithRequireLeader(ctx), p.requestTimeout)
	defer cancel()
	_, err := p.client.Txn(octx).
		If(clientv3.Compare(clientv3.LeaseValue(k), "=", id)).
		Then(clientv3.OpDelete(k)).
		Commit()
	if err != nil {
		return err
	}
	p.writes.Add(1)
	return nil
}
