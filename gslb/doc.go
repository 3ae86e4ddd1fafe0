// Package gslb is Meridian's model and its decisions: the policy kept in
// etcd (zones, regions, services, pools, geo networks) and the live health
// written beside it (proxy heartbeats, probe results), decoded strictly and
// validated; an immutable Snapshot of all of it; and Steer, the pure
// function that picks a region and addresses for one DNS question.
//
// Invariants:
//   - Nothing here does I/O, reads the clock or logs. A deps test keeps
//     etcd, miekg/dns and net/http out of this package's imports.
//   - Decode rejects unknown fields, wrong types and trailing data, and
//     every error names the key and the field ("services/www.gslb.example.:
//     regions[1]: duplicate region eu-west").
//   - A Snapshot never changes after Build. A dangling reference (a service
//     naming a missing region) is skipped and reported in Problems; it never
//     stops the rest of the snapshot from serving.
//   - Steer never answers with a region that is not eligible unless the
//     service's fallback says so, and then Decision.Fallback is set.
//
// Usage:
//
//	e, err := gslb.Decode("services/www.gslb.example.", value, validators)
//	snap := gslb.Build(entries, revision)
//	d, err := gslb.Steer(snap, gslb.Query{Name: "www.gslb.example.", Client: addr, SourceBits: -1})
package gslb
