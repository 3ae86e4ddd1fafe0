// Package demo holds the demo policy of `meridian dev`: one zone, three
// regions on three continents, the documentation ranges placed on each, a
// geo service and a failover service, and a pool per region. The e2e tests
// run against the same policy, so the cheat sheet and the tests cannot
// drift apart.
package demo

import _ "embed"

// Policy is a policy file (key -> value), as `meridian policy apply` reads.
//
//go:embed policy.json
var Policy []byte
