// Package dnsserver is Meridian's authoritative DNS server: it answers for
// every zone in the current gslb.Snapshot, steered names from gslb.Steer,
// over UDP and TCP. miekg/dns types stay inside this package; decisions
// stay in gslb.
//
// # Shape
//
//   - Resolve(req, remote, proto) holds all DNS behaviour and is a
//     function of the request, the current snapshot and the options. Tests
//     call it directly.
//   - ServeDNS wraps Resolve for miekg/dns: it recovers panics (SERVFAIL,
//     counted, logged), rate-limits UDP answers (rrl.go), writes through a
//     pooled buffer, times the query and logs it if sampled (querylog.go).
//   - ListenAndServe binds UDP and TCP on every address, serves until the
//     context ends and shuts down gracefully.
//   - CheckRecord is gslb.Validators.Record: it rejects a static record
//     before it reaches a snapshot if this server could not serve it.
//   - DNSSEC (dnssec*.go): zones with a key (Options.DNSSEC, LoadKeys)
//     are signed online for DO queries: an RRSIG per RRset, cached by
//     content; NSEC black lies (RFC 9824) for negative answers.
//
// # Invariants
//
//   - The query path takes no lock and reads no etcd: it loads the snapshot
//     through Options.Snapshot and a compiled view of it (every owner name
//     in one map, static records parsed, RRs built) through an atomic
//     pointer. A new snapshot is compiled once, by Prepare or by the first
//     query that sees it.
//   - Every reply to a query has the query's ID and question (case kept),
//     QR set, RA clear and RD and CD copied; an OPT record if the query had
//     one; fits 512 bytes over UDP without EDNS, else the smaller of the
//     client's size and Options.UDPSize, truncated by (*dns.Msg).Truncate
//     with TC set; NXDOMAIN and NODATA carry exactly one SOA, with the
//     negative TTL of RFC 2308.
//   - A query without DO gets the same answer whether or not its zone is
//     signed (but for the DNSKEY and nested DS RRsets, which are data). A
//     DO query for a signed zone gets DO back, an RRSIG that verifies for
//     every RRset, an NSEC at the name for a negative answer and never
//     NXDOMAIN; AD is never set.
//   - Memory does not grow with traffic: the RRL table is fixed at New,
//     TCP connections are bounded (limits.go), the query log is
//     rate-limited. RRL keeps no lock and allocates nothing per query.
//   - Responses are never answered; unparseable messages are dropped when
//     they have no header, else answered FORMERR by miekg/dns.
//   - Label values of the metrics are bounded: zones and services come from
//     the configuration, query types and rcodes from fixed lists.
//
// # Usage
//
//	srv, err := dnsserver.New(dnsserver.Options{
//		Snapshot:   store.Current, // func() *gslb.Snapshot
//		Geo:        mmdb,          // geo.Locator, may be nil
//		Logger:     logger.With("component", "dnsserver"),
//		Registerer: registry,
//		NSID:       hostname,
//	})
//	if err != nil {
//		return err
//	}
//	return srv.ListenAndServe(ctx, []string{"127.0.0.1:5353", "[::1]:5353"}, markReady)
//
// See README.md for the behaviour per RFC, configuration, metrics and
// failure modes.
package dnsserver
