package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/meridian-gslb/meridian/gslb/store/etcdtest"
)

func TestLoadAndWatch(t *testing.T) {
	h := newHarness(t, etcdtest.Shared(t))
	rev := h.apply(t, map[string]string{zoneKey: zoneJSON, euKey: euJSON, usKey: usJSON, wwwKey: wwwJSON})
	h.run(t)
	snap := h.ready(t)

	if snap.Revision < rev {
		t.Errorf("first snapshot at revision %d, want >= %d (the seed's)", snap.Revision, rev)
	}
	want := map[string]string{zoneKey: zoneJSON, euKey: euJSON, usKey: usJSON, wwwKey: wwwJSON}
	if diff := cmp.Diff(want, rawEntries(snap)); diff != "" {
		t.Errorf("first snapshot entries (-want +got):\n%s", diff)
	}
	if st := h.st.Status(); !st.Connected || st.Source != SourceEtcd || len(st.Rejected) != 0 {
		t.Errorf("Status() = %+v, want connected, source etcd, nothing rejected", st)
	}

	// A region and the service that uses it, in one transaction: one swap.
	changed := h.st.Changed()
	start := time.Now()
	h.apply(t, map[string]string{apKey: apJSON, wwwKey: www3JSON})
	waitFor(t, "the new region in the service", func() bool {
		s := h.st.Snapshot().Service(wwwName)
		return s != nil && len(s.Regions) == 3
	})
	t.Logf("put visible after %s", time.Since(start))
	select {
	case <-changed:
	default:
		t.Errorf("Changed() channel taken before the swap is still open")
	}
	if got := h.st.Snapshot().Region("ap-southeast"); got == nil {
		t.Errorf("Region(ap-southeast) = nil after the transaction that added it and its service")
	}

	// A heartbeat (status keys decode the same way).
	h.put(t, "status/proxies/eu-west/proxy-1", beatJSON)
	waitFor(t, "the heartbeat", func() bool {
		rh, ok := h.st.Snapshot().RegionHealth("eu-west")
		return ok && rh.Heartbeats && rh.HealthyBackends == 2
	})

	// Deletes.
	h.apply(t, nil, wwwKey)
	waitFor(t, "the service to go", func() bool { return h.st.Snapshot().Service(wwwName) == nil })
	h.apply(t, nil, "status/proxies/eu-west/proxy-1")
	waitFor(t, "the heartbeat to go", func() bool {
		rh, _ := h.st.Snapshot().RegionHealth("eu-west")
		return !rh.Heartbeats
	})

	for kind, want := range map[string]float64{"zone": 1, "region": 3, "service": 0, "proxy_status": 0} {
		if got := val(t, h.st.m.keys.WithLabelValues(kind)); got != want {
			t.Errorf("meridian_store_keys{kind=%q} = %v, want %v", kind, got, want)
		}
	}
	if got := val(t, h.st.m.swaps); got < 5 {
		t.Errorf("meridian_store_snapshot_swaps_total = %v, want >= 5 (load + 4 changes)", got)
	}
	if got := val(t, h.st.m.applySeconds); got < 4 {
		t.Errorf("meridian_store_apply_seconds count = %v, want >= 4 (one per watch response)", got)
	}
}

func TestRejectBadValue(t *testing.T) {
	h := newHarness(t, etcdtest.Shared(t))
	h.apply(t, map[string]string{zoneKey: zoneJSON, euKey: euJSON, usKey: usJSON, wwwKey: wwwJSON})
	h.run(t)
	h.ready(t)
	full := h.prefix + euKey

	tests := []struct {
		name, value, reason string
	}{
		{"malformed JSON", `{"location":`, "unexpected EOF"},
		{"unknown field", `{"location":{"lat":1,"lon":2},"proxies":["127.0.0.11"],"proxys":[]}`, `unknown field "proxys"`},
		{"invalid value", `{"location":{"lat":91,"lon":2},"proxies":["127.0.0.11"]}`, "location.lat: 91 out of range"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h.put(t, euKey, tc.value)
			waitFor(t, "the rejection", func() bool { return strings.Contains(h.st.Status().Rejected[full], tc.reason) })
			if got := raw(h.st.Snapshot(), euKey); got != euJSON {
				t.Errorf("served %s = %s, want the last good value %s", euKey, got, euJSON)
			}
			if got, want := val(t, h.st.m.rejected.WithLabelValues("region")), float64(i+1); got != want {
				t.Errorf("meridian_config_rejected_total{kind=region} = %v, want %v", got, want)
			}
			if !h.logs.contains("key=" + full) {
				t.Errorf("no log line names key %s", full)
			}
		})
	}

	// A good put clears the rejection and is served.
	h.put(t, euKey, eu2JSON)
	waitFor(t, "the good value", func() bool { return raw(h.st.Snapshot(), euKey) == eu2JSON })
	if r := h.st.Status().Rejected; len(r) != 0 {
		t.Errorf("Status().Rejected = %v after a good put, want empty", r)
	}

	// A key outside the layout is rejected as kind "unknown".
	h.put(t, "servcies/www.gslb.example.", wwwJSON)
	waitFor(t, "the unknown key's rejection", func() bool {
		return strings.Contains(h.st.Status().Rejected[h.prefix+"servcies/www.gslb.example."], "unknown directory")
	})
	if got := val(t, h.st.m.rejected.WithLabelValues(kindUnknown)); got != 1 {
		t.Errorf("meridian_config_rejected_total{kind=unknown} = %v, want 1", got)
	}
	// Deleting a rejected key clears it.
	h.apply(t, nil, "servcies/www.gslb.example.")
	waitFor(t, "the rejection to clear", func() bool { return len(h.st.Status().Rejected) == 0 })
}

func TestRejectDanglingReference(t *testing.T) {
	h := newHarness(t, etcdtest.Shared(t))
	h.apply(t, map[string]string{zoneKey: zoneJSON, euKey: euJSON, usKey: usJSON, wwwKey: wwwJSON})
	h.run(t)
	h.ready(t)
	full := h.prefix + wwwKey

	const withMars = `{"policy":"geo","regions":["eu-west","mars"]}`
	h.put(t, wwwKey, withMars)
	waitFor(t, "the rejection", func() bool { return strings.Contains(h.st.Status().Rejected[full], "region mars does not exist") })
	snap := h.st.Snapshot()
	if got := raw(snap, wwwKey); got != wwwJSON {
		t.Errorf("served %s = %s, want the previous value %s", wwwKey, got, wwwJSON)
	}
	if snap.HasProblem(wwwKey) {
		t.Errorf("snapshot has problems %v, want none (the bad put was refused)", snap.Problems())
	}
	if got := val(t, h.st.m.rejected.WithLabelValues("service")); got != 1 {
		t.Errorf("meridian_config_rejected_total{kind=service} = %v, want 1", got)
	}

	// A pool in a region that does not exist: refused, stays absent.
	const poolKey = "pools/mars/web"
	h.put(t, poolKey, `{"hosts":["*"],"backends":[{"address":"10.0.0.1:80"}]}`)
	waitFor(t, "the pool's rejection", func() bool { return h.st.Status().Rejected[h.prefix+poolKey] != "" })
	if got := h.st.Snapshot().Pools("mars"); len(got) != 0 {
		t.Errorf("Pools(mars) = %v, want none", got)
	}

	// Once the region exists, the refused values are served without
	// being put again.
	h.put(t, "regions/mars", `{"location":{"lat":0,"lon":0},"proxies":["127.0.0.99"]}`)
	waitFor(t, "the service with mars", func() bool { return raw(h.st.Snapshot(), wwwKey) == withMars })
	waitFor(t, "the pool in mars", func() bool { return len(h.st.Snapshot().Pools("mars")) == 1 })
	if r := h.st.Status().Rejected; len(r) != 0 {
		t.Errorf("Status().Rejected = %v, want empty", r)
	}
}

func TestDeleteRegionLeavesProblem(t *testing.T) {
	h := newHarness(t, etcdtest.Shared(t))
	h.apply(t, map[string]string{zoneKey: zoneJSON, euKey: euJSON, usKey: usJSON, wwwKey: wwwJSON})
	h.run(t)
	h.ready(t)

	h.apply(t, nil, usKey)
	waitFor(t, "the region to go", func() bool { return h.st.Snapshot().Region("us-east") == nil })
	snap := h.st.Snapshot()
	if snap.Service(wwwName) == nil {
		t.Fatalf("Service(%s) = nil after deleting one of its regions; want it still served", wwwName)
	}
	if !snap.HasProblem(wwwKey) {
		t.Errorf("HasProblem(%s) = false, want the dangling reference reported", wwwKey)
	}
	if got := val(t, h.st.m.problems); got != 1 {
		t.Errorf("meridian_config_problems = %v, want 1", got)
	}
	if !h.logs.contains("configuration problem") || !h.logs.contains("region us-east does not exist") {
		t.Errorf("the problem was not logged")
	}

	// Putting the service again unchanged is not a new problem: accepted.
	rev := h.put(t, wwwKey, wwwJSON)
	waitFor(t, "the unchanged put", func() bool { return h.st.Snapshot().Entries()[wwwKey].ModRevision == rev })
	if r := h.st.Status().Rejected; len(r) != 0 {
		t.Errorf("Status().Rejected = %v after putting the service unchanged, want empty", r)
	}
	// Dropping the missing region fixes the problem.
	h.put(t, wwwKey, `{"policy":"geo","regions":["eu-west"]}`)
	waitFor(t, "the problem to go", func() bool { return !h.st.Snapshot().HasProblem(wwwKey) })
	if r := h.st.Status().Rejected; len(r) != 0 {
		t.Errorf("Status().Rejected = %v, want empty", r)
	}
	if got := val(t, h.st.m.problems); got != 0 {
		t.Errorf("meridian_config_problems = %v, want 0", got)
	}
}

// TestRelistAfterCompaction makes the watch start below the compacted
// revision: the store must relist, take the changes it missed, and still
// keep the last good value of a key whose new value is bad.
func TestRelistAfterCompaction(t *testing.T) {
	h := newHarness(t, etcdtest.Shared(t))
	h.apply(t, map[string]string{zoneKey: zoneJSON, euKey: euJSON, usKey: usJSON, wwwKey: wwwJSON})
	first := true
	h.st.afterList = func() {
		if !first {
			return
		}
		first = false
		// Changes between the list and the watch, then compaction past
		// them: the watch from list+1 is refused as compacted.
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		if _, err := Apply(ctx, h.cli, h.prefix, map[string][]byte{apKey: []byte(apJSON), euKey: []byte(eu2JSON)}, []string{usKey}); err != nil {
			t.Errorf("Apply: %v", err)
		}
		rev, err := Apply(ctx, h.cli, h.prefix, map[string][]byte{wwwKey: []byte("{not json")}, nil)
		if err != nil {
			t.Errorf("Apply: %v", err)
		}
		if _, err := h.cli.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
			t.Errorf("Compact: %v", err)
		}
	}
	h.run(t)
	h.ready(t)

	waitFor(t, "the relist", func() bool { return h.st.Snapshot().Region("ap-southeast") != nil })
	snap := h.st.Snapshot()
	if got := raw(snap, euKey); got != eu2JSON {
		t.Errorf("served %s = %s, want %s (changed while the watch was down)", euKey, got, eu2JSON)
	}
	if snap.Region("us-east") != nil {
		t.Errorf("region us-east still served after it was deleted while the watch was down")
	}
	if got := raw(snap, wwwKey); got != wwwJSON {
		t.Errorf("served %s = %s, want the last good value %s", wwwKey, got, wwwJSON)
	}
	if r := h.st.Status().Rejected[h.prefix+wwwKey]; r == "" {
		t.Errorf("Status().Rejected lacks %s", wwwKey)
	}
	if got := val(t, h.st.m.relists); got < 1 {
		t.Errorf("meridian_store_relists_total = %v, want >= 1", got)
	}
	if !h.logs.contains("required revision has been compacted") {
		t.Errorf("the compaction was not logged")
	}
	// And the new watch works.
	h.put(t, usKey, usJSON)
	waitFor(t, "us-east back", func() bool { return h.st.Snapshot().Region("us-east") != nil })
	if st := h.st.Status(); !st.Connected {
		t.Errorf("Status() = %+v, want connected", st)
	}
}

// TestEtcdRestart stops etcd under a running store: the snapshot keeps
// serving, the store says it is disconnected, and once etcd is back it
// catches up with what changed.
func TestEtcdRestart(t *testing.T) {
	srv := etcdtest.New(t)
	etcdtest.RequireEmbedded(t, srv)
	h := newHarness(t, srv)
	h.apply(t, map[string]string{zoneKey: zoneJSON, euKey: euJSON, usKey: usJSON, wwwKey: wwwJSON})
	h.run(t)
	before := h.ready(t)

	srv.Stop()
	waitFor(t, "the store to notice", func() bool { return !h.st.Status().Connected })
	if got := h.st.Snapshot(); got != before {
		t.Errorf("snapshot changed while etcd was down: %v, want %v", got, before)
	}
	if got := val(t, h.st.m.connected); got != 0 {
		t.Errorf("meridian_store_connected = %v, want 0", got)
	}
	if st := h.st.Status(); st.LastError == "" || st.Source != SourceEtcd {
		t.Errorf("Status() = %+v, want a LastError and source etcd", st)
	}

	if err := srv.Restart(t.Context()); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	h.apply(t, map[string]string{apKey: apJSON, wwwKey: www3JSON}, usKey)
	waitFor(t, "the changes made after the restart", func() bool {
		s := h.st.Snapshot()
		return s.Region("ap-southeast") != nil && s.Region("us-east") == nil
	})
	waitFor(t, "connected", func() bool { return h.st.Status().Connected })
	if got := val(t, h.st.m.relists); got < 1 {
		t.Errorf("meridian_store_relists_total = %v, want >= 1", got)
	}
	if got := val(t, h.st.m.connected); got != 1 {
		t.Errorf("meridian_store_connected = %v, want 1", got)
	}
}

// TestEtcdStopsBeforeWatch stops etcd between the list and the watch: the
// client's Watch then waits for a connection forever, and the store must
// still notice, and recover when etcd is back.
func TestEtcdStopsBeforeWatch(t *testing.T) {
	srv := etcdtest.New(t)
	etcdtest.RequireEmbedded(t, srv)
	h := newHarness(t, srv)
	h.apply(t, map[string]string{zoneKey: zoneJSON, euKey: euJSON, usKey: usJSON, wwwKey: wwwJSON})
	first := true
	h.st.afterList = func() {
		if first {
			first = false
			srv.Stop()
		}
	}
	h.run(t)
	before := h.ready(t)
	waitFor(t, "the store to notice", func() bool { return strings.Contains(h.st.Status().LastError, "not established") })
	if got := h.st.Snapshot(); got != before {
		t.Errorf("snapshot changed while etcd was down")
	}
	if err := srv.Restart(t.Context()); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	h.put(t, apKey, apJSON)
	waitFor(t, "a change after the restart", func() bool { return h.st.Snapshot().Region("ap-southeast") != nil })
}

// TestColdStartFromStateFile: a store writes its state file; a later store
// that cannot reach etcd serves it, then switches to etcd when it answers.
func TestColdStartFromStateFile(t *testing.T) {
	srv := etcdtest.New(t)
	path := filepath.Join(t.TempDir(), "state.json")
	withFile := func(o *Options) { o.StateFile = path }

	// A first run writes the state file.
	h := newHarness(t, srv, withFile)
	h.apply(t, map[string]string{zoneKey: zoneJSON, euKey: euJSON, usKey: usJSON, wwwKey: wwwJSON})
	h.run(t)
	h.ready(t)
	h.put(t, "status/proxies/eu-west/proxy-1", beatJSON)
	waitFor(t, "the heartbeat", func() bool { return raw(h.st.Snapshot(), "status/proxies/eu-west/proxy-1") != "" })
	saved := h.st.Snapshot()
	waitFor(t, "the state file", func() bool {
		st, err := readState(path)
		return err == nil && st.Revision == saved.Revision
	})
	st, err := readState(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rawEntries(saved), st.Entries); diff != "" {
		t.Errorf("state file entries (-snapshot +file):\n%s", diff)
	}
	if st.Prefix != h.prefix {
		t.Errorf("state file prefix %q, want %q", st.Prefix, h.prefix)
	}

	// A second store, with etcd unreachable.
	embedded := !srv.External()
	cold := newHarness(t, srv, withFile, func(o *Options) {
		o.Prefix = h.prefix
		o.RequestTimeout = 200 * time.Millisecond
		if embedded {
			o.Client = clientFor(t, srv.Endpoints())
		} else {
			o.Client = deadClient(t)
		}
	})
	if embedded {
		srv.Stop()
	}
	cold.run(t)
	snap := cold.ready(t)
	if diff := cmp.Diff(rawEntries(saved), rawEntries(snap)); diff != "" {
		t.Errorf("cold start entries (-saved +served):\n%s", diff)
	}
	if snap.Revision != saved.Revision {
		t.Errorf("cold start revision %d, want %d", snap.Revision, saved.Revision)
	}
	if s := cold.st.Status(); s.Source != SourceDisk || s.Connected {
		t.Errorf("Status() = %+v, want source disk, not connected", s)
	}
	if got := val(t, cold.st.m.fromDisk); got != 1 {
		t.Errorf("meridian_store_serving_from_disk = %v, want 1", got)
	}
	if !cold.logs.contains("serving from state file") {
		t.Errorf("no log line says it serves from the state file")
	}
	if !embedded {
		return // cannot bring the external etcd back
	}

	if err := srv.Restart(t.Context()); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	waitFor(t, "the switch to etcd", func() bool { return cold.st.Status().Source == SourceEtcd })
	if got := val(t, cold.st.m.fromDisk); got != 0 {
		t.Errorf("meridian_store_serving_from_disk = %v, want 0", got)
	}
	h.put(t, apKey, apJSON)
	waitFor(t, "a change through etcd", func() bool { return cold.st.Snapshot().Region("ap-southeast") != nil })
}

func TestStateFileNotUsable(t *testing.T) {
	otherPrefix, _ := jsonState(t, &state{Version: stateVersion, Revision: 7, Prefix: "/other/", Entries: map[string]string{euKey: euJSON}})
	oldVersion, _ := jsonState(t, &state{Version: 99, Revision: 7, Prefix: DefaultPrefix, Entries: map[string]string{euKey: euJSON}})
	tests := []struct {
		name, content, log string
	}{
		{"corrupt", `{"version":1,"entr`, "cannot serve the state file"},
		{"other prefix", otherPrefix, "it is for another prefix"},
		{"other version", oldVersion, "version 99, want 1"},
		{"missing", "", "no state file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			if tc.content != "" {
				if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			h := newHarness(t, nil, func(o *Options) {
				o.Client = deadClient(t)
				o.Prefix = DefaultPrefix
				o.StateFile = path
				o.RequestTimeout = 100 * time.Millisecond
			})
			h.run(t)
			waitFor(t, "the log line "+tc.log, func() bool { return h.logs.contains(tc.log) })
			select {
			case <-h.st.Ready():
				t.Errorf("Ready closed with an unusable state file")
			default:
			}
			if st := h.st.Status(); st.Source != "" || h.st.Snapshot() != nil {
				t.Errorf("Status() = %+v, snapshot %v; want nothing served", st, h.st.Snapshot())
			}
		})
	}
}

func jsonState(t *testing.T, st *state) (string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.json")
	if err := writeState(path, st); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	return string(b), err
}

func TestWriteStateAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	want := &state{Version: stateVersion, Revision: 42, Prefix: DefaultPrefix, Entries: map[string]string{euKey: euJSON, wwwKey: "{\n  \"odd\": \"spacing\" }"}}
	for range 2 { // the second write replaces the first
		if err := writeState(path, want); err != nil {
			t.Fatalf("writeState: %v", err)
		}
	}
	got, err := readState(path)
	if err != nil {
		t.Fatalf("readState: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("state round trip (-want +got):\n%s", diff)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	hidden, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if files := slices.Concat(names, hidden); len(files) != 1 {
		t.Errorf("files in the directory = %v, want only the state file", files)
	}
	if err := writeState(filepath.Join(dir, "missing", "state.json"), want); err == nil {
		t.Errorf("writeState into a missing directory: no error")
	}
}

func TestStatusAndLogsWhileDown(t *testing.T) {
	h := newHarness(t, nil, func(o *Options) {
		o.Client = deadClient(t)
		o.RequestTimeout = 50 * time.Millisecond
	})
	h.run(t)
	waitFor(t, "a second failed attempt", func() bool { return h.logs.contains("etcd still unavailable") })
	st := h.st.Status()
	if st.Connected || st.LastError == "" || st.Source != "" {
		t.Errorf("Status() = %+v, want disconnected with an error and no source", st)
	}
	if n := strings.Count(h.logs.String(), "level=WARN msg=\"etcd unavailable"); n != 1 {
		t.Errorf("%d warnings about the outage, want 1 (the retries log at debug)", n)
	}
}

func TestNew(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Errorf("New without a client: no error")
	}
	cli := deadClient(t)
	reg := prometheus.NewRegistry()
	st, err := New(Options{Client: cli, Prefix: "/x", Registerer: reg})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if st.Prefix() != "/x/" {
		t.Errorf("Prefix() = %q, want /x/", st.Prefix())
	}
	if st.Snapshot() != nil {
		t.Errorf("Snapshot() before Run = %v, want nil", st.Snapshot())
	}
	if _, err := New(Options{Client: cli, Registerer: reg}); err == nil {
		t.Errorf("New with the metrics already registered: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := st.Run(ctx); err != nil {
		t.Errorf("Run with a done context = %v, want nil", err)
	}
	if err := st.Run(ctx); err == nil {
		t.Errorf("second Run: no error")
	}
}

func TestMetricsLint(t *testing.T) {
	h := newHarness(t, etcdtest.Shared(t))
	h.apply(t, map[string]string{zoneKey: zoneJSON, euKey: euJSON, usKey: `{`, wwwKey: wwwJSON})
	h.run(t)
	h.ready(t)
	h.put(t, apKey, apJSON)
	waitFor(t, "a watch swap", func() bool { return h.st.Snapshot().Region("ap-southeast") != nil })

	problems, err := testutil.GatherAndLint(h.reg)
	if err != nil {
		t.Fatal(err)
	}
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	want := []string{
		"meridian_config_problems", "meridian_config_rejected_total",
		"meridian_store_apply_seconds", "meridian_store_connected", "meridian_store_keys",
		"meridian_store_relists_total", "meridian_store_revision", "meridian_store_serving_from_disk",
		"meridian_store_snapshot_swaps_total",
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("metric names (-want +got):\n%s", diff)
	}
	if got := val(t, h.st.m.revision); got < float64(h.st.Snapshot().Revision) {
		t.Errorf("meridian_store_revision = %v, want >= %d", got, h.st.Snapshot().Revision)
	}
}

func TestApplyGetList(t *testing.T) {
	srv := etcdtest.Shared(t)
	cli := etcdtest.Client(t, srv)
	prefix := etcdtest.Prefix(t)
	ctx := t.Context()

	rev, err := Apply(ctx, cli, prefix, map[string][]byte{euKey: []byte(euJSON), usKey: []byte(usJSON)}, nil)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	v, mod, err := Get(ctx, cli, prefix, euKey)
	if err != nil || string(v) != euJSON || mod != rev {
		t.Errorf("Get(%s) = %s, %d, %v; want %s, %d, nil", euKey, v, mod, err, euJSON, rev)
	}
	rev2, err := Apply(ctx, cli, strings.TrimSuffix(prefix, "/"), map[string][]byte{apKey: []byte(apJSON)}, []string{usKey})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if rev2 != rev+1 {
		t.Errorf("second Apply at revision %d, want %d (one transaction, one revision)", rev2, rev+1)
	}
	if _, _, err := Get(ctx, cli, prefix, usKey); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(deleted key) error = %v, want ErrNotFound", err)
	}
	all, lrev, err := List(ctx, cli, prefix)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	got := map[string]string{}
	for k, v := range all {
		got[k] = string(v)
	}
	if diff := cmp.Diff(map[string]string{euKey: euJSON, apKey: apJSON}, got); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	if lrev < rev2 {
		t.Errorf("List revision %d, want >= %d", lrev, rev2)
	}
	for _, bad := range []struct {
		puts    map[string][]byte
		deletes []string
	}{
		{map[string][]byte{"": []byte("{}")}, nil},
		{map[string][]byte{"/abs": []byte("{}")}, nil},
		{map[string][]byte{euKey: []byte("{}")}, []string{euKey}},
	} {
		if _, err := Apply(ctx, cli, prefix, bad.puts, bad.deletes); err == nil {
			t.Errorf("Apply(%v, %v): no error", bad.puts, bad.deletes)
		}
	}
}
