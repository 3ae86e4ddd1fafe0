package store

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meridian-gslb/meridian/gslb"
)

func put(key, value string, rev int64) change {
	return change{key: key, value: []byte(value), modRev: rev}
}

func del(key string) change { return change{key: key, delete: true} }

// TestKeyspace drives the keyspace without etcd: batches in, served values
// and rejections out.
func TestKeyspace(t *testing.T) {
	type step struct {
		changes      []change
		full         bool
		wantServed   map[string]string // canonical key -> raw
		wantRejected []string          // keys as stored
		wantSwap     bool
	}
	base := []change{put(zoneKey, zoneJSON, 1), put(euKey, euJSON, 2), put(usKey, usJSON, 3), put(wwwKey, wwwJSON, 4)}
	baseServed := map[string]string{zoneKey: zoneJSON, euKey: euJSON, usKey: usJSON, wwwKey: wwwJSON}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(out, kv[i])
			} else {
				out[kv[i]] = kv[i+1]
			}
		}
		return out
	}
	const withMars = `{"policy":"geo","regions":["mars"]}`
	tests := []struct {
		name  string
		steps []step
	}{{
		name: "first load serves dangling references",
		steps: []step{{
			changes:    []change{put(zoneKey, zoneJSON, 1), put(wwwKey, withMars, 2)},
			full:       true,
			wantServed: map[string]string{zoneKey: zoneJSON, wwwKey: withMars},
			wantSwap:   true,
		}},
	}, {
		name: "bad value keeps the last good one; a delete clears it",
		steps: []step{
			{changes: base, full: true, wantServed: baseServed, wantSwap: true},
			{changes: []change{put(euKey, "{", 5)}, wantServed: baseServed, wantRejected: []string{euKey}},
			{changes: []change{del(euKey)}, wantServed: with(baseServed, euKey, ""), wantSwap: true},
		},
	}, {
		name: "relist deletes what is gone and keeps last good",
		steps: []step{
			{changes: base, full: true, wantServed: baseServed, wantSwap: true},
			{
				changes:      []change{put(zoneKey, zoneJSON, 1), put(euKey, "[]", 9), put(wwwKey, wwwJSON, 4)},
				full:         true,
				wantServed:   with(baseServed, usKey, ""),
				wantRejected: []string{euKey},
				wantSwap:     true,
			},
			// The same relist again: nothing new.
			{
				changes:      []change{put(zoneKey, zoneJSON, 1), put(euKey, "[]", 9), put(wwwKey, wwwJSON, 4)},
				full:         true,
				wantServed:   with(baseServed, usKey, ""),
				wantRejected: []string{euKey},
				wantSwap:     true,
			},
		},
	}, {
		name: "dangling reference refused, then served when the region comes",
		steps: []step{
			{changes: base, full: true, wantServed: baseServed, wantSwap: true},
			{changes: []change{put(wwwKey, withMars, 5)}, wantServed: baseServed, wantRejected: []string{wwwKey}},
			{
				changes:    []change{put("regions/mars", apJSON, 6)},
				wantServed: with(baseServed, "regions/mars", apJSON, wwwKey, withMars),
				wantSwap:   true,
			},
		},
	}, {
		name: "a new value that only drops a problem is accepted",
		steps: []step{
			{changes: base, full: true, wantServed: baseServed, wantSwap: true},
			{changes: []change{del(usKey)}, wantServed: with(baseServed, usKey, ""), wantSwap: true},
			{
				changes:    []change{put(wwwKey, `{"policy":"failover","regions":["us-east","eu-west"]}`, 7)},
				wantServed: with(baseServed, usKey, "", wwwKey, `{"policy":"failover","regions":["us-east","eu-west"]}`),
				wantSwap:   true,
			},
		},
	}, {
		name: "a batch that deletes a region and refers to it keeps the old value",
		steps: []step{
			{changes: base, full: true, wantServed: baseServed, wantSwap: true},
			{
				changes:      []change{del(usKey), put(wwwKey, `{"policy":"geo","regions":["us-east"]}`, 8)},
				wantServed:   with(baseServed, usKey, ""),
				wantRejected: []string{wwwKey},
				wantSwap:     true,
			},
		},
	}, {
		name: "two spellings of one key: the canonical one is served",
		steps: []step{
			{changes: base, full: true, wantServed: baseServed, wantSwap: true},
			{changes: []change{put("services/WWW.gslb.example", wwwJSON, 5)}, wantServed: baseServed, wantRejected: []string{"services/WWW.gslb.example"}},
			{changes: []change{del(wwwKey)}, wantServed: baseServed, wantSwap: true},
			{changes: []change{del("services/WWW.gslb.example")}, wantServed: with(baseServed, wwwKey, ""), wantSwap: true},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := newKeyspace(gslb.Validators{})
			var prev *gslb.Snapshot
			for i, st := range tc.steps {
				out := k.apply(st.changes, st.full, int64(100+i), prev)
				if got := out.snap != nil; got != st.wantSwap {
					t.Errorf("step %d: swap = %v, want %v", i, got, st.wantSwap)
				}
				if out.snap != nil {
					prev = out.snap
				}
				if diff := cmp.Diff(st.wantServed, rawEntries(prev)); diff != "" {
					t.Errorf("step %d: served (-want +got):\n%s", i, diff)
				}
				var rejected []string
				for key := range k.rejections() {
					rejected = append(rejected, key)
				}
				if diff := cmp.Diff(st.wantRejected, rejected); diff != "" {
					t.Errorf("step %d: rejected keys (-want +got):\n%s", i, diff)
				}
			}
		})
	}
}

func TestKeyspaceRejectsOnce(t *testing.T) {
	k := newKeyspace(gslb.Validators{})
	out := k.apply([]change{put(euKey, "{", 5)}, true, 5, nil)
	if len(out.rejected) != 1 || !strings.Contains(out.rejected[0].reason, "unexpected EOF") || out.rejected[0].kind != "region" {
		t.Fatalf("rejected = %+v, want one region rejection", out.rejected)
	}
	// A relist that sees the same bad value does not report it again.
	out = k.apply([]change{put(euKey, "{", 5)}, true, 6, out.snap)
	if len(out.rejected) != 0 {
		t.Errorf("rejected again on relist: %+v", out.rejected)
	}
	out = k.apply([]change{put(euKey, euJSON, 7)}, false, 7, out.snap)
	if diff := cmp.Diff([]string{euKey}, out.cleared); diff != "" {
		t.Errorf("cleared (-want +got):\n%s", diff)
	}
}

func TestReason(t *testing.T) {
	_, err := gslb.Decode(euKey, []byte(`{"location":{"lat":91,"lon":200},"proxies":[]}`), gslb.Validators{})
	got := reason(err)
	for _, want := range []string{"location.lat: 91 out of range", "location.lon: 200 out of range", "proxies: at least one"} {
		if !strings.Contains(got, want) {
			t.Errorf("reason() = %q, want it to contain %q", got, want)
		}
	}
	if strings.Contains(got, euKey) {
		t.Errorf("reason() = %q repeats the key", got)
	}
}
