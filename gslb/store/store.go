package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/meridian-gslb/meridian/gslb"
)

// DefaultPrefix is the keyspace prefix when none is configured.
const DefaultPrefix = "/meridian/"

// Sources of the served snapshot, as in Status.Source.
const (
	SourceEtcd = "etcd"
	SourceDisk = "disk"
)

// Defaults of the timing knobs.
const (
	// DefaultRequestTimeout bounds each read of etcd. etcd answers a
	// healthy read in milliseconds; the bound is for a member that is up
	// but has no quorum, where a read would otherwise wait forever.
	DefaultRequestTimeout = 5 * time.Second
	// livenessInterval: when the watch has been silent this long, the
	// store reads one key to check that etcd still answers (a watch on a
	// dead connection is silent, not broken). Five seconds finds a dead
	// etcd within about ten, while costing one tiny read per interval only
	// on an idle keyspace.
	livenessInterval = 5 * time.Second
	// stateInterval is the least time between two writes of the state
	// file: heartbeats can change the keyspace many times a second, and
	// the file only has to be recent, not current.
	stateInterval = time.Second
)

// Options configure a Store.
type Options struct {
	// Client is the etcd client. Required. The caller closes it after Run
	// returns.
	Client *clientv3.Client
	// Prefix of the keyspace. Default DefaultPrefix; a missing trailing
	// "/" is added.
	Prefix string
	// Validators check static records and health checks in values.
	Validators gslb.Validators
	// StateFile is where the last good keyspace is kept for a cold start
	// with etcd unreachable. "" disables it.
	StateFile string
	// Logger; nil discards. The caller adds the component attribute
	// (logger.With("component", "store")), as for every package.
	Logger *slog.Logger
	// Registerer for the store's metrics; nil exports none.
	Registerer prometheus.Registerer
	// RequestTimeout bounds each read of etcd (the first read at start
	// too, so it is also how long a cold start waits for etcd before
	// serving the state file). Default DefaultRequestTimeout.
	RequestTimeout time.Duration
}

// Status describes the store's connection to etcd, for /healthz and status
// pages.
type Status struct {
	// Connected is true while the store has a working watch.
	Connected bool
	// Source of the served snapshot: SourceEtcd, SourceDisk, or "" before
	// the first one.
	Source string
	// Revision is the etcd revision the store has caught up with (the
	// state file's revision while serving from disk).
	Revision int64
	// LastError is why the store is not connected; "" while connected.
	LastError string
	// Rejected maps full keys whose newest value is not served to the
	// reason. A later good put or a delete of the key clears it.
	Rejected map[string]string
}

// Store turns the etcd keyspace into gslb.Snapshots. See the package
// documentation.
type Store struct {
	client         *clientv3.Client
	prefix         string
	stateFile      string
	log            *slog.Logger
	m              *metrics
	requestTimeout time.Duration
	running        atomic.Bool

	// Owned by the Run goroutine.
	ks         *keyspace
	downLogged bool

	snap      atomic.Pointer[gslb.Snapshot]
	ready     chan struct{}
	readyOnce sync.Once

	mu      sync.Mutex
	changed chan struct{}
	status  Status

	stateDirty chan struct{}

	// Test knobs.
	livenessInterval time.Duration
	stateInterval    time.Duration
	afterList        func() // called after each successful list, before the watch
}

// New returns a Store; Run starts it.
func New(opts Options) (*Store, error) {
	if opts.Client == nil {
		return nil, errors.New("store: Options.Client is required")
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("store: register metrics: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rt := opts.RequestTimeout
	if rt <= 0 {
		rt = DefaultRequestTimeout
	}
	return &Store{
		client:           opts.Client,
		prefix:           normPrefix(opts.Prefix),
		stateFile:        opts.StateFile,
		log:              log,
		m:                m,
		requestTimeout:   rt,
		ks:               newKeyspace(opts.Validators),
		ready:            make(chan struct{}),
		changed:          make(chan struct{}),
		stateDirty:       make(chan struct{}, 1),
		livenessInterval: livenessInterval,
		stateInterval:    stateInterval,
	}, nil
}

func normPrefix(p string) string {
	if p == "" {
		return DefaultPrefix
	}
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// Prefix returns the keyspace prefix, with its trailing "/".
func (s *Store) Prefix() string { return s.prefix }

// Snapshot returns the snapshot being served, or nil before the first.
func (s *Store) Snapshot() *gslb.Snapshot { return s.snap.Load() }

// Ready returns a channel closed once a first snapshot exists, from etcd
// or from the state file.
func (s *Store) Ready() <-chan struct{} { return s.ready }

// Changed returns a channel closed at the next snapshot swap. Take the
// channel before reading Snapshot, then wait on it: a swap between the two
// calls closes the channel already taken, so no change is missed.
//
//	for {
//		ch := st.Changed()
//		use(st.Snapshot())
//		select {
//		case <-ch:
//		case <-ctx.Done():
//			return
//		}
//	}
func (s *Store) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Status returns the store's state; the caller owns the returned map.
func (s *Store) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.Rejected = make(map[string]string, len(s.status.Rejected))
	for k, v := range s.status.Rejected {
		st.Rejected[k] = v
	}
	return st
}

// Run loads the keyspace and follows it until ctx ends; it returns nil
// then. It owns and joins every goroutine it starts, and writes the state
// file a last time before returning. Run may be called once.
func (s *Store) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("store: Run called twice")
	}
	var wg sync.WaitGroup
	if s.stateFile != "" {
		wg.Go(func() { s.stateLoop(ctx) })
	}
	s.loop(ctx)
	wg.Wait()
	return nil
}

// loop lists and watches, and on any failure backs off and does both
// again, until ctx ends.
func (s *Store) loop(ctx context.Context) {
	listed, triedDisk := false, false
	attempt := 0
	for {
		rev, err := s.list(ctx, listed)
		if err == nil {
			listed = true
			if s.afterList != nil {
				s.afterList()
			}
			start := time.Now()
			err = s.watch(ctx, rev)
			// A watch that served for a while was a success: start the
			// next series of retries from the shortest delay.
			if time.Since(start) > 2*backoffMax {
				attempt = 0
			}
		}
		if ctx.Err() != nil {
			return
		}
		s.disconnected(err)
		if !listed && !triedDisk {
			triedDisk = true
			s.loadState()
		}
		if !sleep(ctx, retryDelay(attempt)) {
			return
		}
		attempt++
	}
}

// list reads the whole keyspace and applies it as a full batch.
func (s *Store) list(ctx context.Context, relist bool) (int64, error) {
	gctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(ctx), s.requestTimeout)
	defer cancel()
	resp, err := s.client.Get(gctx, s.prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("store: list %s: %w", s.prefix, err)
	}
	changes := make([]change, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		changes = append(changes, change{
			key:    strings.TrimPrefix(string(kv.Key), s.prefix),
			value:  kv.Value,
			modRev: kv.ModRevision,
		})
	}
	if relist {
		s.m.relists.Inc()
	}
	rev := resp.Header.Revision
	s.connected(rev)
	s.apply(changes, true, rev, SourceEtcd, time.Time{})
	return rev, nil
}

// errWatchClosed: the client closed the watch channel without an error.
var errWatchClosed = errors.New("watch channel closed")

// watch follows the keyspace from rev+1 until the watch breaks or ctx
// ends, applying each response as one batch. It returns why it stopped.
func (s *Store) watch(ctx context.Context, rev int64) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch, err := s.startWatch(wctx, cancel, rev+1)
	if err != nil {
		return err
	}
	tick := time.NewTicker(s.livenessInterval)
	defer tick.Stop()
	heard := true
	next := rev + 1 // for messages: where the watch stands
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case wr, ok := <-wch:
			received := time.Now()
			if !ok {
				return fmt.Errorf("store: watch %s at rev %d: %w", s.prefix, next, errWatchClosed)
			}
			heard = true
			if err := wr.Err(); err != nil {
				return fmt.Errorf("store: watch %s at rev %d: %w", s.prefix, next, err)
			}
			if wr.Canceled {
				return fmt.Errorf("store: watch %s at rev %d: canceled by the server", s.prefix, next)
			}
			next = wr.Header.Revision + 1
			if wr.IsProgressNotify() || len(wr.Events) == 0 {
				s.setRevision(wr.Header.Revision)
				continue
			}
			changes := make([]change, 0, len(wr.Events))
			for _, ev := range wr.Events {
				changes = append(changes, change{
					key:    strings.TrimPrefix(string(ev.Kv.Key), s.prefix),
					value:  ev.Kv.Value,
					modRev: ev.Kv.ModRevision,
					delete: ev.Type == clientv3.EventTypeDelete,
				})
			}
			s.apply(changes, false, wr.Header.Revision, SourceEtcd, received)
		case <-tick.C:
			if heard {
				heard = false
				continue
			}
			// A watch on a connection to a dead or partitioned etcd just
			// goes quiet. (A progress request would be the natural probe,
			// but etcd does not answer one for a watch that starts in the
			// future, which ours does on an idle keyspace.)
			if err := s.ping(wctx); err != nil {
				return fmt.Errorf("store: watch %s: etcd does not answer: %w", s.prefix, err)
			}
		}
	}
}

// startWatch opens the watch, giving up after the request timeout. The
// client's Watch blocks until its stream to etcd is open, which is forever
// when etcd died between the list and the watch; the loop must notice that
// like any other failure. On failure it cancels wctx, which makes Watch
// return, and joins the goroutine.
func (s *Store) startWatch(wctx context.Context, cancel context.CancelFunc, from int64) (clientv3.WatchChan, error) {
	opened := make(chan clientv3.WatchChan, 1)
	go func() {
		opened <- s.client.Watch(wctx, s.prefix, clientv3.WithPrefix(), clientv3.WithRev(from), clientv3.WithProgressNotify())
	}()
	t := time.NewTimer(s.requestTimeout)
	defer t.Stop()
	select {
	case wch := <-opened:
		return wch, nil
	case <-t.C:
	case <-wctx.Done():
	}
	cancel()
	<-opened
	return nil, fmt.Errorf("store: watch %s from rev %d: not established within %s", s.prefix, from, s.requestTimeout)
}

// ping reads one key: linearizable, so it fails without a leader.
func (s *Store) ping(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, s.requestTimeout)
	defer cancel()
	_, err := s.client.Get(pctx, s.prefix, clientv3.WithCountOnly())
	return err
}

// apply feeds one batch to the keyspace and swaps in the snapshot it makes.
// received is when the watch response arrived (zero for lists).
func (s *Store) apply(changes []change, full bool, rev int64, source string, received time.Time) {
	prev := s.snap.Load()
	out := s.ks.apply(changes, full, rev, prev)
	for _, r := range out.rejected {
		s.m.rejected.WithLabelValues(r.kind).Inc()
		s.log.Warn("rejected a value; the key keeps its last good value", "key", s.prefix+r.key, "reason", r.reason, "revision", r.modRev)
	}
	for _, key := range out.cleared {
		s.log.Info("key no longer rejected", "key", s.prefix+key)
	}
	rejected := map[string]string{}
	for k, v := range s.ks.rejections() {
		rejected[s.prefix+k] = v
	}
	s.mu.Lock()
	s.status.Revision = rev
	s.status.Rejected = rejected
	if out.snap != nil {
		s.status.Source = source
	}
	s.mu.Unlock()
	s.m.revision.Set(float64(rev))
	if out.snap == nil {
		return
	}

	snap := out.snap
	s.logProblems(prev, snap)
	s.m.problems.Set(float64(len(snap.Problems())))
	s.m.setKeys(snap)
	s.m.fromDisk.Set(boolGauge(source == SourceDisk))
	s.snap.Store(snap)
	s.m.swaps.Inc()
	if !received.IsZero() {
		s.m.applySeconds.Observe(time.Since(received).Seconds())
	}
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	s.readyOnce.Do(func() {
		s.log.Info("first snapshot", "source", source, "revision", rev, "snapshot", snap.String())
		close(s.ready)
	})
	s.log.Debug("snapshot swapped", "revision", rev, "snapshot", snap.String())
	if source == SourceEtcd && s.stateFile != "" {
		select {
		case s.stateDirty <- struct{}{}:
		default:
		}
	}
}

// logProblems logs each dangling reference once: when it appears, and
// when it goes away.
func (s *Store) logProblems(prev, next *gslb.Snapshot) {
	old := map[string]bool{}
	if prev != nil {
		for _, p := range prev.Problems() {
			old[p.Error()] = true
		}
	}
	now := map[string]bool{}
	for _, p := range next.Problems() {
		now[p.Error()] = true
		if !old[p.Error()] {
			s.log.Warn("configuration problem; the rest of the snapshot serves", "key", s.prefix+p.Key, "reason", fieldReason(p))
		}
	}
	if prev != nil {
		for _, p := range prev.Problems() {
			if !now[p.Error()] {
				s.log.Info("configuration problem resolved", "key", s.prefix+p.Key, "reason", fieldReason(p))
			}
		}
	}
}

func (s *Store) setRevision(rev int64) {
	s.mu.Lock()
	if rev > s.status.Revision {
		s.status.Revision = rev
	}
	s.mu.Unlock()
	s.m.revision.Set(float64(rev))
}

func (s *Store) connected(rev int64) {
	s.mu.Lock()
	s.status.Connected = true
	s.status.LastError = ""
	s.mu.Unlock()
	s.m.connected.Set(1)
	if s.downLogged {
		s.log.Info("connected to etcd again", "revision", rev)
		s.downLogged = false
	}
}

func (s *Store) disconnected(err error) {
	s.mu.Lock()
	s.status.Connected = false
	s.status.LastError = err.Error()
	s.mu.Unlock()
	s.m.connected.Set(0)
	// Warn once per outage; the retries in between go to debug.
	if !s.downLogged {
		s.log.Warn("etcd unavailable; serving the last snapshot, nothing expires until etcd is back", "err", err)
		s.downLogged = true
		return
	}
	s.log.Debug("etcd still unavailable", "err", err)
}

// loadState serves the state file, if there is a usable one. Called when
// the first list fails.
func (s *Store) loadState() {
	if s.stateFile == "" {
		return
	}
	st, err := readState(s.stateFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.log.Info("no state file to serve while etcd is unavailable", "path", s.stateFile)
		return
	case err != nil:
		s.log.Error("cannot serve the state file", "err", err)
		return
	case st.Prefix != s.prefix:
		s.log.Warn("ignoring the state file: it is for another prefix", "path", s.stateFile, "file_prefix", st.Prefix, "prefix", s.prefix)
		return
	}
	s.log.Warn("serving from state file", "path", s.stateFile, "revision", st.Revision, "keys", len(st.Entries))
	s.apply(st.changes(), true, st.Revision, SourceDisk, time.Time{})
}

// stateLoop writes the state file after swaps from etcd, at most once per
// stateInterval, and once more when ctx ends if a swap is unsaved.
func (s *Store) stateLoop(ctx context.Context) {
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			select {
			case <-s.stateDirty:
				s.saveState()
			default:
			}
			return
		case <-s.stateDirty:
		}
		if !sleep(ctx, time.Until(last.Add(s.stateInterval))) {
			s.saveState()
			return
		}
		s.saveState()
		last = time.Now()
	}
}

func (s *Store) saveState() {
	snap := s.snap.Load()
	if snap == nil || s.Status().Source != SourceEtcd {
		return
	}
	if err := writeState(s.stateFile, stateOf(snap, s.prefix)); err != nil {
		s.log.Error("cannot write the state file", "err", err)
		return
	}
	s.log.Debug("state file written", "path", s.stateFile, "revision", snap.Revision)
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
