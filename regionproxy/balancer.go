package regionproxy

import (
	"math/rand/v2"
	"net/http"
	"sort"
	"sync/atomic"
)

// balancer chooses the backend of the next attempt of a request.
type balancer interface {
	// pick returns an available backend of the pool that is not in tried,
	// or nil when there is none. r is the client's request: a sticky
	// policy (a later issue) reads its cookie here and returns the bound
	// backend when it is eligible, before falling back to the policy.
	pick(r *http.Request, tried []*backend) *backend
}

func newBalancer(name string, members []member) balancer {
	switch name {
	case "least_request":
		return &leastRequest{newRandom(members)}
	case "random":
		return newRandom(members)
	default: // "round_robin", and what gslb.Pool.validate defaults to
		return newRoundRobin(members)
	}
}

// maxSequence bounds the precomputed round-robin schedule. Weights whose sum
// exceeds it are scaled down to fit (each backend keeping at least one
// slot), which approximates extreme ratios; 4096 slots keep ratios up to
// 1:1000 exact for a handful of backends at 16 KiB per pool.
const maxSequence = 4096

// roundRobin is smooth weighted round robin (NGINX's algorithm), computed
// once per configuration into a schedule that the request path walks with
// one atomic counter: weights 5,1,1 give a a b a c a a, not a a a a a b c.
// A pick skips backends that are unavailable or already tried, so their
// share goes to the next in the schedule.
type roundRobin struct {
	members []member
	seq     []int32
	next    atomic.Uint64
}

func newRoundRobin(members []member) *roundRobin {
	return &roundRobin{members: members, seq: smoothSequence(weightsOf(members))}
}

func weightsOf(members []member) []int {
	w := make([]int, len(members))
	for i, m := range members {
		w[i] = max(m.weight, 1)
	}
	return w
}

// smoothSequence returns the smooth weighted round-robin order of one cycle
// over weights.
func smoothSequence(weights []int) []int32 {
	if len(weights) == 0 {
		return nil
	}
	g, total := 0, 0
	for _, w := range weights {
		g = gcd(g, w)
		total += w
	}
	w := make([]int, len(weights))
	sum := 0
	for i, x := range weights {
		w[i] = x / g
		if total/g > maxSequence {
			w[i] = max(1, x*maxSequence/total)
		}
		sum += w[i]
	}
	cur := make([]int, len(w))
	seq := make([]int32, 0, sum)
	for range sum {
		best := -1
		for i := range w {
			cur[i] += w[i]
			if best < 0 || cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= sum
		seq = append(seq, int32(best))
	}
	return seq
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func (rr *roundRobin) pick(_ *http.Request, tried []*backend) *backend {
	n := uint64(len(rr.seq))
	if n == 0 {
		return nil
	}
	start := rr.next.Add(1) - 1
	for k := range n {
		m := rr.members[rr.seq[(start+k)%n]]
		if eligible(m.b, tried) {
			return m.b
		}
	}
	return nil
}

// leastRequest is the power of two choices over in-flight attempts (Envoy's
// and HAProxy's default family): two backends drawn at random in proportion
// to their weights, the one with fewer in-flight attempts per unit of
// weight wins, the first drawn on a tie. Idle, it is weighted random; under
// load, it steers away from slow or busy backends without the herd that a
// strict "least" causes when many proxies see the same counts.
type leastRequest struct {
	*random
}

func (lr *leastRequest) pick(_ *http.Request, tried []*backend) *backend {
	n := len(lr.members)
	if n == 0 {
		return nil
	}
	i := probe(lr.members, lr.draw(), -1, tried)
	if i < 0 {
		return nil
	}
	j := probe(lr.members, lr.draw(), i, tried)
	if j < 0 {
		return lr.members[i].b
	}
	a, b := lr.members[i], lr.members[j]
	// b.inflight/b.weight < a.inflight/a.weight, without division.
	if b.b.inflight.Load()*int64(a.weight) < a.b.inflight.Load()*int64(b.weight) {
		return b.b
	}
	return a.b
}

// probe returns the first eligible member at or after start (wrapping),
// skipping index skip, or -1.
func probe(members []member, start, skip int, tried []*backend) int {
	n := len(members)
	for k := range n {
		i := (start + k) % n
		if i != skip && eligible(members[i].b, tried) {
			return i
		}
	}
	return -1
}

// random picks a backend at random in proportion to its weight (Caddy's
// default); an ineligible pick moves on to the next eligible backend.
type random struct {
	members []member
	cum     []int // cumulative weights
}

func newRandom(members []member) *random {
	r := &random{members: members, cum: make([]int, len(members))}
	total := 0
	for i, w := range weightsOf(members) {
		total += w
		r.cum[i] = total
	}
	return r
}

// draw returns the index of a member drawn in proportion to its weight.
func (r *random) draw() int {
	x := rand.IntN(r.cum[len(r.cum)-1])
	return sort.SearchInts(r.cum, x+1)
}

func (r *random) pick(_ *http.Request, tried []*backend) *backend {
	if len(r.cum) == 0 {
		return nil
	}
	if i := probe(r.members, r.draw(), -1, tried); i >= 0 {
		return r.members[i].b
	}
	return nil
}
