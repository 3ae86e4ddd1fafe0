package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/gslb/store"
	"github.com/meridian-gslb/meridian/gslb/store/etcdtest"
)

// bigPolicy is a valid policy of 3 + n keys: a zone, two regions and n
// services.
func bigPolicy(n int) map[string]any {
	p := map[string]any{
		"zones/big.example.": map[string]any{"nameservers": []any{map[string]any{"name": "ns1.big.example.", "ipv4": []string{"192.0.2.53"}}}},
		"regions/eu-west":    map[string]any{"location": map[string]any{"lat": 53.35, "lon": -6.26}, "proxies": []string{"192.0.2.10"}},
		"regions/us-east":    map[string]any{"location": map[string]any{"lat": 38.9, "lon": -77.04}, "proxies": []string{"192.0.2.20"}},
	}
	for i := range n {
		p[fmt.Sprintf("services/s%03d.big.example.", i)] = map[string]any{"policy": "geo", "regions": []string{"eu-west", "us-east"}}
	}
	return p
}

// TestPolicyApplyLarge: a policy larger than one etcd transaction may
// carry (128 operations, embedded etcd's default as etcd's) is applied
// in several, and every key lands.
func TestPolicyApplyLarge(t *testing.T) {
	srv := etcdtest.New(t)
	policy := bigPolicy(300)
	b, err := json.Marshal(policy)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "big.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ep := "--etcd-endpoints=" + strings.Join(srv.Endpoints(), ",")
	// In one transaction, etcd refuses it whole: what apply did before.
	out, err := runCLI(t, "policy", "apply", path, ep, "--etcd-prefix=/one-txn/", "--max-txn-ops=1000")
	if err == nil || !strings.Contains(err.Error(), "too many operations") {
		t.Fatalf("apply in one transaction of 303 operations: err = %v, want etcd's too many operations\n%s", err, out)
	}
	out, err = runCLI(t, "policy", "apply", path, ep)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	if !strings.Contains(out, "applied 303 key(s) in 3 transactions") {
		t.Errorf("apply output:\n%s", out)
	}
	cli := etcdtest.Client(t, srv)
	live, _, err := store.List(t.Context(), cli, "/meridian/")
	if err != nil {
		t.Fatal(err)
	}
	for k := range policy {
		if _, ok := live[k]; !ok {
			t.Errorf("%s not in etcd after apply", k)
		}
	}
	// Applied again: nothing changes.
	if out, err := runCLI(t, "policy", "apply", path, ep); err != nil || !strings.Contains(out, "no changes") {
		t.Errorf("second apply: %v\n%s", err, out)
	}
}

// TestApplyBatches: batches stay within the limit, one when the change
// fits, and in reference order when it does not.
func TestApplyBatches(t *testing.T) {
	puts := map[string][]byte{}
	for k := range bigPolicy(250) {
		puts[k] = []byte("{}")
	}
	for i := range 20 {
		puts[fmt.Sprintf("pools/eu-west/p%02d", i)] = []byte("{}")
		puts[fmt.Sprintf("geo/networks/n%02d", i)] = []byte("{}")
	}
	if got := applyBatches(puts, len(puts)); len(got) != 1 {
		t.Fatalf("%d keys, limit %d: %d batches, want 1", len(puts), len(puts), len(got))
	}
	batches := applyBatches(puts, 100)
	if len(batches) != 3 {
		t.Fatalf("%d keys, limit 100: %d batches, want 3", len(puts), len(batches))
	}
	seen, last := 0, -1
	for i, b := range batches {
		if len(b) > 100 {
			t.Errorf("batch %d has %d keys", i, len(b))
		}
		seen += len(b)
		var ranks []int
		for k := range b {
			pk, err := gslb.ParseKey(k)
			if err != nil {
				t.Fatal(err)
			}
			ranks = append(ranks, slices.Index(applyOrder, pk.Kind))
		}
		if slices.Min(ranks) < last {
			t.Errorf("batch %d has a key of kind rank %d after a batch with rank %d", i, slices.Min(ranks), last)
		}
		last = slices.Max(ranks)
	}
	if seen != len(puts) {
		t.Errorf("batches hold %d keys, want %d", seen, len(puts))
	}
}
