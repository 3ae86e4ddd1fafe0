package probes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"sync"
	"time"
)

// ErrRunTwice is returned by a second call to Monitor.Run.
var ErrRunTwice = errors.New("probes: Monitor.Run called twice")

// Transition reports a change of a target's state, and the first result of a new target.
type Transition struct {
	Target string
	Up     bool   // state after Result
	Prev   bool   // state before Result
	Result Result // the result that decided it
	// Since is when Prev began: the previous transition, or when the target was added.
	Since time.Time
	// First is set on the first result after the target was added. Prev was then the check's
	// initial_state, an assumption rather than an observation, so Up may equal Prev: the
	// event tells that the state is now known.
	First bool
}

// TargetStatus is the state of one target, as returned by Snapshot.
type TargetStatus struct {
	Check Check // with defaults applied
	Up    bool  // the initial state until Known
	Known bool  // at least one result since the target was added
	// Since is when the current state began, or when the target was added if the state has
	// not changed since.
	Since               time.Time
	Last                Result // the latest result; zero until Known
	Successes, Failures int    // consecutive
}

// MonitorOptions configure a Monitor. Every field is optional.
type MonitorOptions struct {
	// OnChange is called when a target's state changes and on each new target's first result
	// (Transition.First). See the Monitor doc for how it is called.
	OnChange func(Transition)
	// OnResult is called with every result, before OnChange, in the same way.
	OnResult func(target string, r Result)
	// Metrics, if set, record checks, durations, states and transitions.
	Metrics *Metrics
	// Logger receives what cannot be returned: a panic in a Checker, with its stack.
	Logger *slog.Logger
	// CheckerOptions are passed to NewChecker.
	CheckerOptions CheckerOptions
	// NewChecker builds the Checker for a target's check, already defaulted and valid.
	// Default: NewChecker(c, CheckerOptions). Tests use it to fake targets; a caller may use
	// it to add kinds.
	NewChecker func(Check) (Checker, error)
	// Rand returns a uniform random number in [0, n); it spreads first checks over one
	// interval. Default math/rand/v2.Int64N.
	Rand func(n int64) int64
}

// Monitor checks a changing set of targets and reports changes of their up/down state.
//
// Each target has one goroutine, started by Run or by Set while Run runs: it waits a random
// delay in [0, interval), then checks once per interval. Callbacks run on that goroutine, so
// they are serialized per target (also across a restart by Set, which waits for the old
// goroutine to end) and run concurrently for different targets. A slow callback delays that
// target's next check; ticks missed meanwhile are dropped, not queued. Callbacks must not
// call Set (it would wait for the goroutine that is calling it), but may call Status and
// Snapshot.
type Monitor struct {
	opts       MonitorOptions
	newChecker func(Check) (Checker, error)
	rand       func(int64) int64

	setMu sync.Mutex // serializes Set; only Set changes which targets exist

	mu      sync.Mutex // guards the fields below and the state of every target
	targets map[string]*target
	phase   phase
	runCtx  context.Context // while phase == running
	wg      sync.WaitGroup  // target goroutines
}

type phase int

const (
	idle phase = iota
	running
	stopped
)

// target is one monitored target. name, check and checker never change; the rest is guarded
// by Monitor.mu.
type target struct {
	name    string
	check   Check
	checker Checker

	st    counter
	known bool
	since time.Time
	last  Result

	retired bool               // replaced or removed by Set; never (re)started
	cancel  context.CancelFunc // nil until started
	done    chan struct{}      // closed when the goroutine has returned
}

// NewMonitor returns a Monitor with no targets.
func NewMonitor(opts MonitorOptions) *Monitor {
	m := &Monitor{opts: opts, targets: make(map[string]*target), newChecker: opts.NewChecker, rand: opts.Rand}
	if m.newChecker == nil {
		m.newChecker = func(c Check) (Checker, error) { return NewChecker(c, opts.CheckerOptions) }
	}
	if m.rand == nil {
		m.rand = rand.Int64N
	}
	return m
}

// Set makes targets (address → check) the monitored set. New targets start in their
// initial_state; removed targets stop, and Set returns only after their goroutines have
// returned, so no callback for them follows. A target whose check changed is restarted:
//
//   - if only interval, timeout, rise, fall or initial_state changed, state and counts are kept;
//   - if the probe itself changed (kind, path, expect_status, …), the state is kept but becomes
//     an assumption, which the next result confirms or reverses at once (no rise/fall wait);
//     the counts start again.
//
// A target whose check is invalid is not applied: if it was monitored it keeps running with
// its last good check, otherwise it is not added. The error joins the problems of every such
// target; the valid ones are applied regardless. Set may be called before, during and after
// Run, from any goroutine except a Monitor callback.
func (m *Monitor) Set(targets map[string]Check) error {
	m.setMu.Lock()
	defer m.setMu.Unlock()

	m.mu.Lock()
	current := maps.Clone(m.targets)
	m.mu.Unlock()

	var (
		errs    []error
		added   []*target // new targets and the replacements of changed ones
		retired []*target // removed or replaced
	)
	for _, name := range slices.Sorted(maps.Keys(targets)) {
		c := targets[name].WithDefaults()
		old := current[name]
		if old != nil && old.check == c {
			continue
		}
		if err := c.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("probes: target %q: %w", name, err))
			continue
		}
		if _, err := targetAddr(name, c); err != nil {
			errs = append(errs, fmt.Errorf("probes: %w", err))
			continue
		}
		checker, err := m.newChecker(c)
		if err != nil {
			errs = append(errs, fmt.Errorf("probes: target %q: %w", name, err))
			continue
		}
		added = append(added, &target{name: name, check: c, checker: checker})
		if old != nil {
			retired = append(retired, old)
		}
	}
	for name, old := range current {
		if _, ok := targets[name]; !ok {
			retired = append(retired, old)
		}
	}

	// Stop the old goroutines, then wait for them without holding mu: their callbacks may call
	// Status.
	var waits []chan struct{}
	m.mu.Lock()
	for _, t := range retired {
		t.retired = true
		if t.cancel != nil {
			t.cancel()
			waits = append(waits, t.done)
		}
	}
	m.mu.Unlock()
	for _, done := range waits {
		<-done
	}

	now := time.Now()
	m.mu.Lock()
	for _, t := range retired {
		if _, ok := targets[t.name]; !ok {
			delete(m.targets, t.name)
		}
	}
	for _, t := range added {
		t.inherit(m.targets[t.name], now)
		m.targets[t.name] = t
		if m.phase == running {
			m.start(t)
		}
	}
	m.mu.Unlock()

	for _, t := range retired {
		if _, ok := targets[t.name]; !ok {
			m.opts.Metrics.forget(t.name)
		}
	}
	return errors.Join(errs...)
}

// inherit sets t's state from old, the target it replaces (nil for a new target). old's
// goroutine has returned. Called with mu held.
func (t *target) inherit(old *target, now time.Time) {
	if old == nil {
		t.st, t.since = newCounter(t.check), now
		return
	}
	t.known, t.since, t.last = old.known, old.since, old.last
	switch {
	case !old.known:
		// Nothing was learned: the new check's initial state applies.
		t.st = newCounter(t.check)
	case sameProbe(old.check, t.check):
		t.st = old.st
		t.st.rise, t.st.fall = t.check.Rise, t.check.Fall
	default:
		t.st = counter{rise: t.check.Rise, fall: t.check.Fall, up: old.st.up, pending: true}
	}
}

// Run checks the targets until ctx is done, then stops every check, waits for every goroutine
// it started and returns nil. It can be called once; later calls return ErrRunTwice.
func (m *Monitor) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.phase != idle {
		m.mu.Unlock()
		return ErrRunTwice
	}
	m.phase, m.runCtx = running, ctx
	for _, t := range m.targets {
		if !t.retired { // being replaced by a concurrent Set, which starts the replacement
			m.start(t)
		}
	}
	m.mu.Unlock()

	<-ctx.Done()

	m.mu.Lock()
	m.phase, m.runCtx = stopped, nil
	m.mu.Unlock()
	// Every target context derives from ctx, so every goroutine is on its way out.
	m.wg.Wait()
	return nil
}

// start runs t's goroutine. Called with mu held, while running.
func (m *Monitor) start(t *target) {
	ctx, cancel := context.WithCancel(m.runCtx)
	t.cancel, t.done = cancel, make(chan struct{})
	delay := m.jitter(time.Duration(t.check.Interval))
	m.wg.Go(func() {
		defer close(t.done)
		defer cancel()
		m.loop(ctx, t, delay)
	})
}

// jitter returns a random delay in [0, d), so that targets added together (all of them, at
// start) are not checked in lockstep (Consul's lib.RandomStagger).
func (m *Monitor) jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(min(max(m.rand(int64(d)), 0), int64(d)-1))
}

func (m *Monitor) loop(ctx context.Context, t *target, delay time.Duration) {
	first := time.NewTimer(delay)
	defer first.Stop()
	select {
	case <-ctx.Done():
		return
	case <-first.C:
	}
	tick := time.NewTicker(time.Duration(t.check.Interval))
	defer tick.Stop()
	for {
		m.probe(ctx, t)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// probe runs one check of t and applies its result.
func (m *Monitor) probe(ctx context.Context, t *target) {
	r := m.check(ctx, t)
	if ctx.Err() != nil {
		// Stopped by Set or Run while checking: the result says nothing about the target.
		return
	}
	m.opts.Metrics.observeResult(r)

	m.mu.Lock()
	tr := Transition{Target: t.name, Prev: t.st.up, Result: r, Since: t.since, First: !t.known}
	changed := t.st.observe(r.Up)
	tr.Up = t.st.up
	if changed {
		t.since = r.Time
	}
	t.known, t.last = true, r
	m.mu.Unlock()

	m.opts.Metrics.setState(t.name, tr.Up)
	if changed {
		m.opts.Metrics.transition(tr.Up)
	}
	if m.opts.OnResult != nil {
		m.opts.OnResult(t.name, r)
	}
	if (changed || tr.First) && m.opts.OnChange != nil {
		m.opts.OnChange(tr)
	}
}

// check runs the checker, turning a panic into a down result: the goroutine root is the place
// to recover, and one broken checker must not take the process and every other target down.
func (m *Monitor) check(ctx context.Context, t *target) (r Result) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			if m.opts.Logger != nil {
				m.opts.Logger.Error("health checker panicked", "target", t.name,
					"err", fmt.Sprintf("%v\n%s", p, debug.Stack()))
			}
			r = Result{Up: false, RTT: time.Since(start), Detail: "checker panicked", Time: start}
		}
	}()
	return t.checker.Check(ctx, t.name)
}

// Status returns target's current state, and whether it rests on at least one result. For a
// target that is not monitored it returns false, false. Hot paths should keep their own copy
// from OnChange rather than call Status, which takes the Monitor's lock.
func (m *Monitor) Status(target string) (up bool, known bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.targets[target]
	if !ok {
		return false, false
	}
	return t.st.up, t.known
}

// Snapshot returns the status of every monitored target.
func (m *Monitor) Snapshot() map[string]TargetStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]TargetStatus, len(m.targets))
	for name, t := range m.targets {
		out[name] = TargetStatus{
			Check:     t.check,
			Up:        t.st.up,
			Known:     t.known,
			Since:     t.since,
			Last:      t.last,
			Successes: t.st.successes,
			Failures:  t.st.failures,
		}
	}
	return out
}
