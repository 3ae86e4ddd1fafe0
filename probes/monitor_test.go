package probes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

// fakeNet stands in for the network in Monitor tests: each target is up or down as the test
// says, and every check is recorded. Under synctest its checks take no time.
type fakeNet struct {
	start time.Time

	mu       sync.Mutex
	up       map[string]bool
	hang     map[string]bool            // checks of these targets block until cancelled
	panics   map[string]bool            // checks of these targets panic
	calls    map[string][]time.Duration // when each check started, since start
	canceled map[string]int             // hanging checks that returned because they were cancelled
}

func newFakeNet() *fakeNet {
	return &fakeNet{
		start: time.Now(),
		up:    map[string]bool{}, hang: map[string]bool{}, panics: map[string]bool{},
		calls: map[string][]time.Duration{}, canceled: map[string]int{},
	}
}

func (f *fakeNet) set(target string, up bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.up[target] = up
}

// newChecker is MonitorOptions.NewChecker.
func (f *fakeNet) newChecker(Check) (Checker, error) { return f, nil }

func (f *fakeNet) Check(ctx context.Context, target string) Result {
	now := time.Now()
	f.mu.Lock()
	f.calls[target] = append(f.calls[target], now.Sub(f.start))
	up, hang, panics := f.up[target], f.hang[target], f.panics[target]
	f.mu.Unlock()
	switch {
	case panics:
		panic("fake checker bug")
	case hang:
		<-ctx.Done()
		f.mu.Lock()
		f.canceled[target]++
		f.mu.Unlock()
		return Result{Detail: "canceled", Time: now}
	case up:
		return Result{Up: true, Detail: "status 200", Time: now}
	}
	return Result{Detail: "status 503", Time: now}
}

func (f *fakeNet) callTimes(target string) []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls[target])
}

// event is a Transition with times relative to the test's start, for comparison.
type event struct {
	Target          string
	At              time.Duration // Result.Time
	Up, Prev, First bool
	Since           time.Duration
	Detail          string
}

// recorder collects Monitor callbacks.
type recorder struct {
	start   time.Time
	mu      sync.Mutex
	events  []event
	results map[string]int
}

func newRecorder(start time.Time) *recorder {
	return &recorder{start: start, results: map[string]int{}}
}

func (r *recorder) onChange(tr Transition) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, event{
		Target: tr.Target, At: tr.Result.Time.Sub(r.start), Up: tr.Up, Prev: tr.Prev, First: tr.First,
		Since: tr.Since.Sub(r.start), Detail: tr.Result.Detail,
	})
}

func (r *recorder) onResult(target string, _ Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results[target]++
}

func (r *recorder) take() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.events
	r.events = nil
	return ev
}

// harness is a Monitor running on a fakeNet inside a synctest bubble.
type harness struct {
	t     *testing.T
	net   *fakeNet
	rec   *recorder
	m     *Monitor
	reg   *prometheus.Registry
	stop  context.CancelFunc
	done  chan error
	rands []int64 // arguments to Rand
}

// newHarness returns a Monitor whose first checks are delayed by rand(n) (nil: no delay).
// Call run to start it.
func newHarness(t *testing.T, rand func(n int64) int64, logger *slog.Logger) *harness {
	t.Helper()
	h := &harness{t: t, net: newFakeNet(), reg: prometheus.NewRegistry()}
	h.rec = newRecorder(h.net.start)
	if rand == nil {
		rand = func(int64) int64 { return 0 }
	}
	var randMu sync.Mutex
	h.m = NewMonitor(MonitorOptions{
		OnChange:   h.rec.onChange,
		OnResult:   h.rec.onResult,
		Metrics:    NewMetrics(h.reg, "probe"),
		Logger:     logger,
		NewChecker: h.net.newChecker,
		Rand: func(n int64) int64 {
			randMu.Lock()
			h.rands = append(h.rands, n)
			randMu.Unlock()
			return rand(n)
		},
	})
	return h
}

func (h *harness) run() {
	ctx, cancel := context.WithCancel(h.t.Context())
	h.stop, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.m.Run(ctx) }()
	synctest.Wait()
}

// at advances the fake clock to d after the start and lets every goroutine settle.
func (h *harness) at(d time.Duration) {
	h.t.Helper()
	if wait := time.Until(h.net.start.Add(d)); wait > 0 {
		time.Sleep(wait)
	}
	synctest.Wait()
}

func (h *harness) set(targets map[string]Check) {
	h.t.Helper()
	if err := h.m.Set(targets); err != nil {
		h.t.Fatalf("Set: %v", err)
	}
}

func (h *harness) shutdown() {
	h.t.Helper()
	h.stop()
	if err := <-h.done; err != nil {
		h.t.Errorf("Run = %v, want nil", err)
	}
}

func (h *harness) wantEvents(want ...event) {
	h.t.Helper()
	if diff := cmp.Diff(want, h.rec.take()); diff != "" {
		h.t.Errorf("transitions mismatch (-want +got):\n%s", diff)
	}
}

const sec = time.Second

// tcpCheck is a check with the default 2 s interval, rise 2 and fall 3.
var tcpCheck = Check{Kind: KindTCP}

func TestMonitorDownThenUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil, nil)
		const a = "192.0.2.1:80"
		h.net.set(a, true)
		h.set(map[string]Check{a: tcpCheck})
		h.run()

		// Checks at 0, 2, 4, …; the first one decides the initial state.
		h.at(1 * sec)
		h.wantEvents(event{Target: a, At: 0, Up: true, Prev: false, First: true, Since: 0, Detail: "status 200"})
		if up, known := h.m.Status(a); !up || !known {
			t.Errorf("Status(%s) = %v, %v; want up, known", a, up, known)
		}

		// Dies at 5 s: failures at 6, 8, 10; down at the third (fall 3).
		h.at(5 * sec)
		h.net.set(a, false)
		h.at(9 * sec)
		h.wantEvents()
		if up, _ := h.m.Status(a); !up {
			t.Errorf("Status(%s) at 9s = down, want still up after two failures", a)
		}
		h.at(10*sec + 1)
		h.wantEvents(event{Target: a, At: 10 * sec, Up: false, Prev: true, Since: 0, Detail: "status 503"})

		// Back at 11 s: successes at 12, 14; up at the second (rise 2).
		h.at(11 * sec)
		h.net.set(a, true)
		h.at(13 * sec)
		h.wantEvents()
		h.at(20 * sec)
		h.wantEvents(event{Target: a, At: 14 * sec, Up: true, Prev: false, Since: 10 * sec, Detail: "status 200"})

		want := TargetStatus{
			Check: tcpCheck.WithDefaults(), Up: true, Known: true, Since: h.net.start.Add(14 * sec),
			Last: Result{Up: true, Detail: "status 200", Time: h.net.start.Add(20 * sec)}, Successes: 5,
		}
		if diff := cmp.Diff(map[string]TargetStatus{a: want}, h.m.Snapshot()); diff != "" {
			t.Errorf("Snapshot mismatch (-want +got):\n%s", diff)
		}
		h.shutdown()

		for _, m := range []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{"checks_total", map[string]string{"result": "up"}, 8},   // 0, 2, 4, 12, 14, 16, 18, 20
			{"checks_total", map[string]string{"result": "down"}, 3}, // 6, 8, 10
			{"check_duration_seconds", map[string]string{"result": "down"}, 3},
			{"transitions_total", map[string]string{"to": "down"}, 1},
			{"transitions_total", map[string]string{"to": "up"}, 2}, // the first result took it up from initial down
			{"target_up", map[string]string{"target": a}, 1},
		} {
			if got, _ := metricValue(t, h.reg, "meridian_probe_"+m.name, m.labels); got != m.want {
				t.Errorf("meridian_probe_%s%v = %v, want %v", m.name, m.labels, got, m.want)
			}
		}
	})
}

func TestMonitorInitialState(t *testing.T) {
	tests := []struct {
		initial string
		up      bool
		want    event
	}{
		{"down", true, event{Up: true, Prev: false, First: true, Detail: "status 200"}},
		{"down", false, event{Up: false, Prev: false, First: true, Detail: "status 503"}},
		{"up", true, event{Up: true, Prev: true, First: true, Detail: "status 200"}},
		{"up", false, event{Up: false, Prev: true, First: true, Detail: "status 503"}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("initial %s, target up %v", tc.initial, tc.up), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { testInitialState(t, tc.initial, tc.up, tc.want) })
		})
	}
}

func testInitialState(t *testing.T, initial string, targetUp bool, want event) {
	h := newHarness(t, func(n int64) int64 { return n / 2 }, nil)
	const a = "192.0.2.1:80"
	h.net.set(a, targetUp)
	h.set(map[string]Check{a: {Kind: KindTCP, InitialState: initial}})
	if up, known := h.m.Status(a); up != (initial == "up") || known {
		t.Errorf("Status before the first check = %v, %v; want %v, false", up, known, initial == "up")
	}
	h.run()
	h.at(5 * sec) // checks at 1, 3, 5: only the first is an event
	want.Target, want.At = a, 1*sec
	h.wantEvents(want)
	if up, known := h.m.Status(a); up != targetUp || !known {
		t.Errorf("Status = %v, %v; want %v, true", up, known, targetUp)
	}
	h.shutdown()
}

func TestMonitorJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		offsets := map[int64]int64{} // Rand returns a different offset on each call
		var calls int64
		h := newHarness(t, func(n int64) int64 {
			calls++
			offsets[calls] = n / 4 * calls
			return offsets[calls]
		}, nil)
		h.set(map[string]Check{"192.0.2.1:80": tcpCheck}) // Set before Run: started by Run
		h.run()
		h.set(map[string]Check{"192.0.2.1:80": tcpCheck, "192.0.2.2:80": tcpCheck})
		h.at(6 * sec)
		if diff := cmp.Diff([]int64{int64(2 * sec), int64(2 * sec)}, h.rands); diff != "" {
			t.Errorf("Rand arguments (-want +got):\n%s", diff)
		}
		// Rand gave 0.5 s, then 1 s.
		want := map[string][]time.Duration{
			"192.0.2.1:80": {sec / 2, 2*sec + sec/2, 4*sec + sec/2},
			"192.0.2.2:80": {1 * sec, 3 * sec, 5 * sec},
		}
		for target, w := range want {
			if diff := cmp.Diff(w, h.net.callTimes(target)); diff != "" {
				t.Errorf("check times of %s (-want +got):\n%s", target, diff)
			}
		}
		h.shutdown()
	})
}

func TestMonitorSetRemoves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil, nil)
		const a, b = "192.0.2.1:80", "192.0.2.2:80"
		h.net.set(a, true)
		h.net.set(b, true)
		h.set(map[string]Check{a: tcpCheck, b: tcpCheck})
		h.run()
		h.at(1 * sec)
		h.rec.take()

		// b's next check (at 2 s) hangs; removing b must cancel it and stop its goroutine
		// before Set returns, without a result or event for b.
		h.net.mu.Lock()
		h.net.hang[b] = true
		h.net.mu.Unlock()
		h.at(3 * sec)
		h.set(map[string]Check{a: tcpCheck})
		h.net.mu.Lock()
		canceled := h.net.canceled[b]
		h.net.mu.Unlock()
		if canceled != 1 {
			t.Errorf("Set returned with %d cancelled checks of %s, want 1", canceled, b)
		}
		if up, known := h.m.Status(b); up || known {
			t.Errorf("Status(%s) after removal = %v, %v; want false, false", b, up, known)
		}
		if _, ok := h.m.Snapshot()[b]; ok {
			t.Errorf("Snapshot still has %s after removal", b)
		}
		if n := seriesCount(t, h.reg, "meridian_probe_target_up"); n != 1 {
			t.Errorf("target_up has %d series after removal, want 1 (for %s)", n, a)
		}

		h.at(10 * sec)
		if got := len(h.net.callTimes(b)); got != 2 {
			t.Errorf("%s was checked %d times, want 2 (at 0 s and the cancelled one at 2 s)", b, got)
		}
		h.rec.mu.Lock()
		results := h.rec.results[b]
		h.rec.mu.Unlock()
		if results != 1 {
			t.Errorf("%s produced %d results, want 1: a cancelled check is not a result", b, results)
		}
		h.wantEvents()
		h.shutdown()
	})
}

func TestMonitorSetChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// First checks a tenth of an interval after each (re)start, so that nothing runs
		// between Set returning and the test looking at the state.
		h := newHarness(t, func(n int64) int64 { return n / 10 }, nil)
		const a = "192.0.2.1:80"
		h.net.set(a, true)
		h.set(map[string]Check{a: tcpCheck})
		h.run()
		h.at(3 * sec) // up since 0.2 s, two successes
		h.wantEvents(event{Target: a, At: sec / 5, Up: true, First: true, Detail: "status 200"})

		// Only the interval changes: state and counts stay, and checks go on every 5 s from
		// 0.5 s after the restart.
		slow := Check{Kind: KindTCP, Interval: Duration(5 * sec)}
		h.set(map[string]Check{a: slow})
		if st := h.m.Snapshot()[a]; !st.Up || !st.Known || st.Successes != 2 {
			t.Errorf("after an interval change: %+v, want up, known, 2 successes", st)
		}
		// Set with the same checks again changes nothing.
		h.set(map[string]Check{a: slow})
		h.at(12 * sec)
		if diff := cmp.Diff([]time.Duration{sec / 5, 2*sec + sec/5, 3*sec + sec/2, 8*sec + sec/2}, h.net.callTimes(a)); diff != "" {
			t.Errorf("check times (-want +got):\n%s", diff)
		}

		// The target fails once (fall 3 would need two more), then the probe changes. A new
		// probe's first result decides, so the next failure takes the target down at once.
		h.net.set(a, false)
		h.at(14 * sec) // failure at 13.5 s
		h.wantEvents()
		h.set(map[string]Check{a: {Kind: KindTCP, Port: 8080, Interval: Duration(5 * sec)}})
		if st := h.m.Snapshot()[a]; !st.Up || !st.Known || st.Failures != 0 {
			t.Errorf("after a probe change: %+v, want still up and known, counts reset", st)
		}
		h.at(15 * sec) // failure at 14.5 s
		h.wantEvents(event{Target: a, At: 14*sec + sec/2, Up: false, Prev: true, Since: sec / 5, Detail: "status 503"})
		h.shutdown()
	})
}

func TestMonitorSetInvalid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil, nil)
		const a, b, c = "192.0.2.1:80", "192.0.2.2:80", "192.0.2.3"
		h.set(map[string]Check{a: tcpCheck})
		h.run()
		h.at(1 * sec)

		err := h.m.Set(map[string]Check{
			a: {Kind: KindTCP, Timeout: Duration(5 * sec)}, // invalid: a keeps running its last good check
			b: tcpCheck,                                    // valid: added
			c: tcpCheck,                                    // no port for tcp: not added
		})
		want := []string{
			`probes: target "192.0.2.1:80": timeout: 5s exceeds interval 2s`,
			`probes: target "192.0.2.3" has no port and the check sets none`,
		}
		if err == nil {
			t.Fatalf("Set(invalid) = nil, want errors")
		}
		if diff := cmp.Diff(want, strings.Split(err.Error(), "\n")); diff != "" {
			t.Errorf("Set error mismatch (-want +got):\n%s", diff)
		}
		snap := h.m.Snapshot()
		if got := slices.Sorted(maps.Keys(snap)); !slices.Equal(got, []string{a, b}) {
			t.Errorf("targets after Set = %v, want [%s %s]", got, a, b)
		}
		if snap[a].Check != tcpCheck.WithDefaults() {
			t.Errorf("check of %s = %+v, want the last good one", a, snap[a].Check)
		}
		h.shutdown()
	})
}

func TestMonitorRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil, nil)
		const a = "192.0.2.1:80"
		h.set(map[string]Check{a: tcpCheck})
		h.run()
		if err := h.m.Run(t.Context()); !errors.Is(err, ErrRunTwice) {
			t.Errorf("second Run = %v, want ErrRunTwice", err)
		}
		h.at(1 * sec)
		h.shutdown() // synctest.Test fails if any goroutine of the bubble outlives it

		// After Run: Set still records, but nothing runs.
		h.set(map[string]Check{a: tcpCheck, "192.0.2.2:80": tcpCheck})
		h.at(10 * sec)
		if got := len(h.net.callTimes("192.0.2.2:80")); got != 0 {
			t.Errorf("target added after Run was checked %d times, want 0", got)
		}
		if got := len(h.net.callTimes(a)); got != 1 {
			t.Errorf("%s was checked %d times, want 1 (before Run returned)", a, got)
		}
		h.set(nil)
		if n := len(h.m.Snapshot()); n != 0 {
			t.Errorf("Snapshot after Set(nil) has %d targets, want 0", n)
		}
	})
}

func TestMonitorCheckerPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		h := newHarness(t, nil, slog.New(slog.NewTextHandler(&logs, nil)))
		const a = "192.0.2.1:80"
		h.net.mu.Lock()
		h.net.panics[a] = true
		h.net.mu.Unlock()
		h.set(map[string]Check{a: {Kind: KindTCP, InitialState: "up"}})
		h.run()
		h.at(1 * sec)
		h.wantEvents(event{Target: a, At: 0, Up: false, Prev: true, First: true, Detail: "checker panicked"})
		if !strings.Contains(logs.String(), "fake checker bug") || !strings.Contains(logs.String(), "target=192.0.2.1:80") {
			t.Errorf("log = %q, want the panic value and the target", logs.String())
		}
		h.shutdown()
	})
}

// TestMonitorHTTP runs a Monitor against a real HTTP backend that fails and recovers, with
// real time: one down and one up transition, then Run returns and leaves no goroutine.
func TestMonitorHTTP(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	before := goleak.IgnoreCurrent()

	events := make(chan Transition, 16)
	m := NewMonitor(MonitorOptions{OnChange: func(tr Transition) { events <- tr }})
	target := srv.Listener.Addr().String()
	fast := Check{Interval: Duration(MinInterval), Rise: 2, Fall: 2}
	if err := m.Set(map[string]Check{target: fast}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()

	next := func(want string) Transition {
		t.Helper()
		select {
		case tr := <-events:
			return tr
		case <-time.After(5 * time.Second):
			t.Fatalf("no transition %s within 5s", want)
			return Transition{}
		}
	}
	if tr := next("first"); !tr.First || !tr.Up {
		t.Fatalf("first transition = %+v, want First and up", tr)
	}
	healthy.Store(false)
	if tr := next("down"); tr.Up || !tr.Prev || tr.Result.Detail != "status 503" {
		t.Fatalf("transition = %+v, want down after status 503", tr)
	}
	healthy.Store(true)
	if tr := next("up"); !tr.Up || tr.Prev || tr.Result.Detail != "status 200" {
		t.Fatalf("transition = %+v, want up after status 200", tr)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of cancellation")
	}
	if len(events) != 0 {
		t.Errorf("%d more transitions, want none: %+v", len(events), <-events)
	}
	goleak.VerifyNone(t, before)
}
