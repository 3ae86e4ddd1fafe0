// Package regionproxy is Meridian's regional HTTP reverse proxy: it serves
// the pools of one region (pools/<region>/<pool>), balancing each request
// over the pool's backends that are up, retrying failed attempts on another
// backend, spilling over to the proxies of other regions when no local
// backend is left, and publishing a heartbeat (healthy/total backends,
// draining, load) that DNS steering reads. It knows nothing of etcd: the
// command passes the current snapshot, a change notification and a publish
// function in Options.
//
// # Request path
//
//	Host -> pool (exact name, then "*")     no pool: 404
//	[cache lookup: a later issue]
//	buffer a body up to 64 KiB (so it can be replayed)
//	balancer.pick (round_robin, least_request, random; sticky: a later issue)
//	  none: first spill-over region with an up proxy   none: 503 + Retry-After
//	ReverseProxy (Rewrite: SetURL, original Host, SetXForwarded)
//	  Transport = the attempt loop: failed attempt -> another backend
//	  (dial errors always; other transport errors for idempotent methods),
//	  at most 1 + pool.retries attempts; last failure: generic 502/504
//
// # Invariants
//
//   - The request path takes no lock: the pool table is immutable and
//     swapped with an atomic.Pointer when the snapshot changes; backend
//     state (active verdict, passive failures, ejection, in-flight) and
//     counters are atomics; per-request state is recycled through a
//     sync.Pool. Metric series are looked up once per snapshot.
//   - Nothing the proxy answers itself (404, 502, 503, 504) names a
//     backend, an address or a cause; those go to the log.
//   - Forwarding headers (Forwarded, X-Forwarded-*, X-Real-IP) from clients
//     are replaced; they are kept, and extended, only when the direct peer
//     is a known Meridian proxy (an address in some region's proxies list).
//   - A request carrying Meridian-Spillover is never spilled again.
//   - A backend is taken out by its active check (rise/fall, probes.Monitor)
//     or by 3 consecutive failed attempts (for 10 s); a 5xx response is the
//     backend's answer, not a failure.
//   - Run and Serve own every goroutine they start and return only after
//     those have ended.
//
// # Usage
//
//	p, err := regionproxy.New(regionproxy.Options{
//		Region: "eu-west", Instance: "proxy-1:8080", Advertise: addr,
//		Snapshot: store.Snapshot, Changed: store.Changed,
//		Publish:     func(s gslb.ProxyStatus) { publisher.Set(key, mustJSON(s)) },
//		DrainPeriod: regionproxy.DrainAuto,
//		Logger:      logger, Registerer: reg,
//	})
//	// Serve drains and shuts down when serveCtx ends (SIGTERM); cancel
//	// runCtx only after Serve has returned, so that checks and heartbeats
//	// go on during the drain.
//	go p.Run(runCtx)
//	err = p.Serve(serveCtx, ln)
package regionproxy
