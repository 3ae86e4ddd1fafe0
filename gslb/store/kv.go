package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrNotFound is returned by Get for a key that does not exist.
var ErrNotFound = errors.New("store: key not found")

// Apply writes puts and deletes (keys relative to prefix) in one
// transaction: all of them take effect at one revision, which it returns,
// so a watcher sees a region and the service that uses it together. etcd
// caps a transaction at --max-txn-ops operations (128 by default); a
// larger change fails whole. Apply does not validate values: callers run
// gslb.Decode first (`meridian policy apply` does).
func Apply(ctx context.Context, client *clientv3.Client, prefix string, puts map[string][]byte, deletes []string) (int64, error) {
	prefix = normPrefix(prefix)
	ops := make([]clientv3.Op, 0, len(puts)+len(deletes))
	// Sorted: the same change makes the same transaction.
	for _, k := range slices.Sorted(maps.Keys(puts)) {
		if err := checkRel(k); err != nil {
			return 0, err
		}
		ops = append(ops, clientv3.OpPut(prefix+k, string(puts[k])))
	}
	for _, k := range deletes {
		if err := checkRel(k); err != nil {
			return 0, err
		}
		if _, ok := puts[k]; ok {
			return 0, fmt.Errorf("store: apply: %s is both put and deleted", k)
		}
		ops = append(ops, clientv3.OpDelete(prefix+k))
	}
	resp, err := client.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return 0, fmt.Errorf("store: apply %d puts and %d deletes under %s: %w", len(puts), len(deletes), prefix, err)
	}
	return resp.Header.Revision, nil
}

// Get returns the value of one key (relative to prefix) and the revision
// that last modified it, or ErrNotFound.
func Get(ctx context.Context, client *clientv3.Client, prefix, rel string) ([]byte, int64, error) {
	prefix = normPrefix(prefix)
	if err := checkRel(rel); err != nil {
		return nil, 0, err
	}
	resp, err := client.Get(ctx, prefix+rel)
	if err != nil {
		return nil, 0, fmt.Errorf("store: get %s: %w", prefix+rel, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, fmt.Errorf("%w: %s", ErrNotFound, prefix+rel)
	}
	kv := resp.Kvs[0]
	return kv.Value, kv.ModRevision, nil
}

// List returns every key under prefix (relative to it) with its value, and
// the revision the read was made at.
func List(ctx context.Context, client *clientv3.Client, prefix string) (map[string][]byte, int64, error) {
	prefix = normPrefix(prefix)
	resp, err := client.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("store: list %s: %w", prefix, err)
	}
	out := make(map[string][]byte, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out[strings.TrimPrefix(string(kv.Key), prefix)] = kv.Value
	}
	return out, resp.Header.Revision, nil
}

// checkRel refuses keys that would escape or mean the whole prefix: an
// empty key would put a value at the prefix itself.
func checkRel(k string) error {
	if k == "" || strings.HasPrefix(k, "/") {
		return fmt.Errorf("store: key %q: want a key relative to the prefix, such as \"services/www.example.\"", k)
	}
	return nil
}
