package probes

// counter is the rise/fall state machine of one target, free of goroutines and clocks so that
// it can be tested as a table of results and transitions.
//
// The counts are of consecutive results: a success resets the failure count and a failure
// resets the success count. This is Envoy's healthy_threshold/unhealthy_threshold model, not
// HAProxy's leaky health counter (where one success in a run of failures only steps the counter
// back by one).
type counter struct {
	rise, fall int  // thresholds, at least 1
	up         bool // current state
	// pending means the state is an assumption (the initial state, or a state carried over
	// from a different check) and the next result decides it outright, like Consul's
	// StatusHandler whose counters start at the thresholds.
	pending             bool
	successes, failures int // consecutive
}

func newCounter(c Check) counter {
	return counter{rise: c.Rise, fall: c.Fall, up: c.InitialState == InitialUp, pending: true}
}

// observe records one result and reports whether the state changed.
func (c *counter) observe(ok bool) (changed bool) {
	if ok {
		c.successes++
		c.failures = 0
	} else {
		c.failures++
		c.successes = 0
	}
	if c.pending {
		c.pending = false
		changed = c.up != ok
		c.up = ok
		return changed
	}
	switch {
	case !c.up && ok && c.successes >= c.rise:
		c.up = true
		return true
	case c.up && !ok && c.failures >= c.fall:
		c.up = false
		return true
	}
	return false
}
