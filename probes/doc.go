// Package probes runs active health checks (HTTP, HTTPS, TCP, DNS) and turns their results into
// up/down states with rise/fall hysteresis. `meridian probe` uses it to check region proxies
// (another package writes the states to etcd) and the regional proxy uses it to check its own
// backends. It knows nothing of etcd and logs nothing on its own.
//
// # Pieces
//
//   - Check is the JSON definition of a check as it appears in policy; WithDefaults fills it in
//     and Validate reports every problem, each prefixed with its field's JSON name.
//   - NewChecker turns a Check into a Checker, which checks one target once, bounded by the
//     check's timeout, and returns a Result with a short Detail that is safe to log.
//   - Monitor runs the Checkers of a changing set of targets on their intervals and reports
//     state changes as Transition events.
//   - Metrics are the Prometheus metrics of one or more Monitors.
//
// # State and hysteresis
//
// A target is up or down. A new target starts in its check's initial_state (default "down"),
// which is an assumption, not an observation, and its first result decides the state outright:
// a healthy target is up one check after it is added, a dead one is confirmed down. This is
// HAProxy's init-state up/down (not fully-up/fully-down) and what Consul's StatusHandler does by
// starting its counters at the thresholds. Waiting rise checks before the first "up" would keep a
// healthy pool dark for rise × interval after every restart of a prober or proxy.
//
// From then on the counts are of consecutive results:
//
//   - a down target goes up after rise consecutive successes (default 2);
//   - an up target goes down after fall consecutive failures (default 3);
//   - a success resets the failure count and a failure resets the success count.
//
// With interval 2s, rise 2 and fall 3, a target that dies is marked down 4–6 s later (plus up to
// the 1 s timeout if it hangs rather than refuses), and one that recovers is marked up 2–4 s
// later. HAProxy's counter is
// leaky instead (a success in a run of failures only undoes one failure), so flapping targets
// go down sooner there; consecutive counts are what Envoy does and are easier to reason about.
//
// A result produced while its check was being stopped (Set removed or replaced the target, or
// Run's context ended) is dropped: a cancelled check says nothing about the target.
//
// # Scheduling
//
// Each target has its own goroutine. It waits a random delay in [0, interval) so that targets
// added together (all of them, at start) spread over one interval instead of firing in
// lockstep, then checks once per interval on a time.Ticker. A check never outlasts its timeout,
// which is at most the interval, so checks of one target never overlap; if a callback is slow,
// missed ticks are dropped rather than queued.
//
// # Changing the target set
//
// Monitor.Set reconciles the running set with the one given:
//
//   - a new target starts in its initial_state with Status known == false, and gets a
//     Transition with First set on its first result, whatever that result is;
//   - a removed target's goroutine is stopped, its in-flight check cancelled, and Set returns
//     only once it has exited, so no callback for it follows; its target_up series is deleted;
//   - a target whose interval, timeout, rise, fall or initial_state changed is restarted with
//     its state and counts kept;
//   - a target whose probe changed (kind, port, path, method, host, expectations, TLS or DNS
//     settings) is restarted with its state kept as an assumption that the next result
//     confirms or reverses at once, like a new target's initial state, so editing a check does
//     not blank a healthy pool while it waits for rise checks;
//   - a target with an invalid check is not applied (a running one keeps its last good check)
//     and Set returns the error.
//
// # Events
//
// MonitorOptions.OnChange receives a Transition when a target's state changes and on a new
// target's first result; OnResult receives every result. Both run on the target's goroutine:
// serialized per target (also across restarts), concurrent across targets. They must not call
// Set.
//
// # Usage
//
//	m := probes.NewMonitor(probes.MonitorOptions{
//		Metrics:  probes.NewMetrics(reg, "probe"),
//		OnChange: func(tr probes.Transition) { publish(tr.Target, tr.Up, tr.Result) },
//	})
//	if err := m.Set(map[string]probes.Check{"192.0.2.10:8080": {Path: "/healthz"}}); err != nil {
//		return err // invalid checks were skipped; the valid ones run
//	}
//	return m.Run(ctx) // until ctx is done; every goroutine has returned when it does
package probes
