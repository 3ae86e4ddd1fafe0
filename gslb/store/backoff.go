package store

import (
	"context"
	"math/rand/v2"
	"time"
)

// Retry delays. The first retry comes quickly because most watch breaks
// are a leader change or a member restart that heals in well under a
// second; the cap keeps a fleet of servers from hammering an etcd that is
// struggling back up, while a recovery is still noticed within seconds.
const (
	backoffMin = 100 * time.Millisecond
	backoffMax = 5 * time.Second
)

// retryDelay returns the delay before retry number attempt (0-based): an
// exponential from backoffMin capped at backoffMax, jittered to 50-100%
// so that servers that lost etcd together do not come back in lockstep.
func retryDelay(attempt int) time.Duration {
	d := backoffMax
	if attempt < 16 {
		d = min(backoffMin<<attempt, backoffMax)
	}
	return d/2 + rand.N(d/2+1)
}

// sleep waits for d or until ctx ends, and reports whether ctx is alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
