// Package conformance holds Meridian's DNS conformance suite: run.sh
// checks the RFC behaviours of an authoritative server (flags, apex
// records, negative answers, refusal, 0x20, EDNS, truncation, TCP
// pipelining, ECS, ANY, NSID, opcodes, classes, transfers, DNSSEC) with
// real clients (dig, kdig, delv) against `meridian dev` and `meridian dns`,
// runs zonemaster-cli against the zone, and resolves it through unbound
// with a local, signed delegation chain. Everything runs in a private
// network namespace. TestConformance runs the script; dnsprobe is the
// small client for what dig and kdig cannot send. See README.md.
package conformance
