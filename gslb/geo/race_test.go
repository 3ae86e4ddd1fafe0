//go:build race

package geo

// raceEnabled relaxes allocation tests: under the race detector sync.Pool
// drops a share of Put items on purpose, so pooled values get reallocated.
const raceEnabled = true
