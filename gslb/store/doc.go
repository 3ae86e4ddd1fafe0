// Package store is Meridian's only door to etcd. It turns the keyspace under
// a prefix (default "/meridian/") into immutable gslb.Snapshots, and writes
// the live keys that proxies and probers keep on leases.
//
// A Store lists the prefix at a revision R, decodes every key
// (gslb.ParseKey, gslb.DecodeKey), builds a snapshot and swaps it in with
// an atomic.Pointer; then it watches from R+1 and applies each watch
// response as one batch: one rebuild, one swap. Readers call Snapshot and
// never touch etcd.
//
// Invariants:
//
//   - Last good per key. A value that does not decode or validate is
//     rejected (logged once with the key and the reason, counted in
//     meridian_config_rejected_total, listed in Status().Rejected) and the
//     key keeps serving its previous value, or stays absent. A value that
//     decodes but gives its key a dangling reference it did not have (a
//     service naming a region that does not exist) is refused the same
//     way, and tried again with every later batch, so it is served as soon
//     as the missing region appears.
//   - Deletes always apply. A delete that leaves a dangling reference (a
//     region deleted under a service) shows as a problem in the snapshot
//     (meridian_config_problems) while everything else keeps serving.
//   - Lost etcd is not lost state. When the watch breaks, etcd stops
//     answering, or the history it needs was compacted, the store keeps
//     serving the snapshot it has (nothing expires), backs off, lists the
//     whole prefix again and watches again. Only etcd itself, healthy,
//     removes a key (a delete, an expired lease).
//   - One writer. Only Run's goroutine builds and swaps snapshots; a
//     snapshot, once swapped in, is never modified.
//   - Cold start without etcd. With Options.StateFile, the store keeps an
//     on-disk copy of the last good keyspace (written atomically at most
//     once a second); when the first list fails it serves that copy
//     (Status().Source == "disk") until etcd answers.
//
// Usage:
//
//	cli, err := store.Dial(store.ClientConfig{Endpoints: endpoints, Logger: log})
//	if err != nil { ... }
//	defer cli.Close()
//	st, err := store.New(store.Options{Client: cli, StateFile: "/var/lib/meridian/state.json", Logger: log, Registerer: reg})
//	if err != nil { ... }
//	g.Go(func() error { return st.Run(ctx) })
//	<-st.Ready()
//	for {
//		changed := st.Changed()
//		serve(st.Snapshot())
//		select {
//		case <-changed:
//		case <-ctx.Done():
//			return
//		}
//	}
//
// A proxy publishes its heartbeat with a Publisher:
//
//	pub := store.NewPublisher(cli, 10*time.Second, log)
//	g.Go(func() error { return pub.Run(ctx) })
//	pub.Set("/meridian/status/proxies/eu-west/proxy-1", heartbeatJSON)
//
// Apply, Get and List are the one-shot reads and writes of the CLI.
//
// Subpackage embedetcd runs an etcd inside the process (meridian dev);
// etcdtest gives tests one.
package store
