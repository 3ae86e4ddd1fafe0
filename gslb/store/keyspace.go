package store

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/meridian-gslb/meridian/gslb"
)

// change is one key's new state, from a watch event, a list or the state
// file. Keys are relative to the prefix and spelled as stored.
type change struct {
	key    string
	value  []byte
	modRev int64
	delete bool
}

// rejection says why the newest value of a key is not the one served.
type rejection struct {
	kind   string // metric label: a gslb.Kind name, or kindUnknown
	reason string
	modRev int64 // of the rejected value; 0 for a state-file value
}

// kindUnknown labels keys that are not in the keyspace layout at all.
const kindUnknown = "unknown"

// rejectEvent is a rejection to log and count: a value rejected for the
// first time.
type rejectEvent struct {
	key string
	rejection
}

// outcome is what applying one batch did.
type outcome struct {
	// snap is the snapshot to swap in; nil when the served entries did not
	// change and no swap is needed.
	snap *gslb.Snapshot
	// rejected are values rejected for the first time (to log and count);
	// cleared are keys that were rejected and no longer are.
	rejected []rejectEvent
	cleared  []string
}

// keyspace is the store's view of the etcd keyspace: the values it serves
// (last good per key), the values it refused and why. It is pure: the
// store's Run goroutine owns it and feeds it batches.
type keyspace struct {
	validators gslb.Validators

	// accepted holds the served value of every key, by key as stored.
	accepted map[string]gslb.Entry
	// pending holds values that decoded but were refused because they
	// referred to something missing; each batch tries them again, so a
	// service put before its region is served once the region arrives.
	pending map[string]gslb.Entry
	// rejected holds, by key as stored, why the newest value is not served
	// (bad value, dangling reference).
	rejected map[string]rejection
	// shadowed holds accepted keys hidden by another spelling of the same
	// canonical key ("services/WWW.example" and "services/www.example."),
	// mapped to the spelling served.
	shadowed map[string]string
}

func newKeyspace(v gslb.Validators) *keyspace {
	return &keyspace{
		validators: v,
		accepted:   map[string]gslb.Entry{},
		pending:    map[string]gslb.Entry{},
		rejected:   map[string]rejection{},
		shadowed:   map[string]string{},
	}
}

// apply applies one batch and builds the next snapshot at rev.
//
// full means the batch is the whole keyspace (a list or the state file):
// keys not in it are deleted.
//
// prev is the snapshot served now, or nil before the first one. With prev,
// a value that decodes but gives its key a problem (a dangling reference)
// that the key did not have in prev is refused and the key keeps its
// previous value: an operator's typo in a region name must not take a
// region out of a service. Without prev (the first load) there is nothing
// to keep, and every value that decodes is served, problems and all:
// dangling references can legitimately exist in etcd (a region deleted
// under a service), and a server that restarts must then serve what the
// servers that never restarted serve.
func (k *keyspace) apply(changes []change, full bool, rev int64, prev *gslb.Snapshot) outcome {
	var out outcome
	next := maps.Clone(k.accepted)
	tried := map[string]gslb.Entry{}
	deleted := map[string]bool{}

	if full {
		seen := make(map[string]bool, len(changes))
		for _, c := range changes {
			seen[c.key] = true
		}
		for _, m := range []map[string]bool{keySet(k.accepted), keySet(k.pending), keySet(k.rejected)} {
			for key := range m {
				if !seen[key] {
					deleted[key] = true
				}
			}
		}
	}
	for _, c := range changes {
		if c.delete {
			deleted[c.key] = true
			continue
		}
		delete(deleted, c.key)
		if old, ok := k.accepted[c.key]; ok && c.modRev != 0 && old.ModRevision == c.modRev && bytes.Equal(old.Raw, c.value) {
			// A list repeating what is served: nothing to decide.
			delete(tried, c.key)
			delete(k.pending, c.key)
			k.clear(c.key, &out)
			continue
		}
		e, err := decode(c.key, c.value, k.validators)
		if err != nil {
			delete(tried, c.key)
			delete(k.pending, c.key)
			k.reject(c.key, rejection{kind: kindOf(c.key), reason: reason(err), modRev: c.modRev}, &out)
			continue
		}
		e.ModRevision = c.modRev
		tried[c.key] = e
	}
	for key := range deleted {
		delete(next, key)
		delete(tried, key)
		delete(k.pending, key)
		k.clear(key, &out)
	}
	for key, e := range k.pending {
		if _, ok := tried[key]; !ok {
			tried[key] = e
		}
	}
	maps.Copy(next, tried)

	// Build, refuse the tried values that brought new problems, rebuild.
	// Only services and pools have problems and nothing refers to them, so
	// a second build settles it; the loop bound is a guard.
	refused := map[string]string{}
	var entries map[string]gslb.Entry
	var shadowed map[string]string
	var snap *gslb.Snapshot
	for range len(tried) + 1 {
		entries, shadowed = canonical(next)
		snap = gslb.Build(entries, rev)
		if prev == nil {
			break
		}
		var again bool
		for key, e := range tried {
			if refused[key] != "" || shadowed[key] != "" {
				continue
			}
			if r := newProblems(prev, snap, e.Key.String()); r != "" {
				refused[key] = r
				if old, ok := k.accepted[key]; ok {
					next[key] = old
				} else {
					delete(next, key)
				}
				again = true
			}
		}
		if !again {
			break
		}
	}

	for key, e := range tried {
		if r := refused[key]; r != "" {
			k.pending[key] = e
			k.reject(key, rejection{kind: e.Key.Kind.String(), reason: r, modRev: e.ModRevision}, &out)
			continue
		}
		delete(k.pending, key)
		k.clear(key, &out)
	}
	for key, winner := range shadowed {
		if k.shadowed[key] != winner {
			e := next[key]
			out.rejected = append(out.rejected, rejectEvent{key: key, rejection: rejection{
				kind:   e.Key.Kind.String(),
				reason: shadowReason(winner),
				modRev: e.ModRevision,
			}})
		}
	}
	for key := range k.shadowed {
		if _, ok := shadowed[key]; !ok && k.rejected[key].reason == "" {
			out.cleared = append(out.cleared, key)
		}
	}
	k.shadowed = shadowed

	k.accepted = next
	if prev == nil || full || !sameEntries(prev.Entries(), entries) {
		out.snap = snap
	}
	return out
}

func keySet[V any](m map[string]V) map[string]bool {
	s := make(map[string]bool, len(m))
	for k := range m {
		s[k] = true
	}
	return s
}

func (k *keyspace) reject(key string, r rejection, out *outcome) {
	old, had := k.rejected[key]
	k.rejected[key] = r
	if had && old.reason == r.reason && old.modRev == r.modRev {
		return // the same value, seen again by a relist or a retry
	}
	out.rejected = append(out.rejected, rejectEvent{key: key, rejection: r})
}

func (k *keyspace) clear(key string, out *outcome) {
	if _, ok := k.rejected[key]; ok {
		delete(k.rejected, key)
		if _, shadowed := k.shadowed[key]; !shadowed {
			out.cleared = append(out.cleared, key)
		}
	}
}

// rejections returns why each refused key is not served, by key as stored.
func (k *keyspace) rejections() map[string]string {
	m := make(map[string]string, len(k.rejected)+len(k.shadowed))
	for key, r := range k.rejected {
		m[key] = r.reason
	}
	for key, w := range k.shadowed {
		if _, ok := m[key]; !ok {
			m[key] = shadowReason(w)
		}
	}
	return m
}

func shadowReason(winner string) string {
	return "same key as " + winner + " (spelled differently); that one is served"
}

func decode(key string, value []byte, v gslb.Validators) (gslb.Entry, error) {
	k, err := gslb.ParseKey(key)
	if err != nil {
		return gslb.Entry{}, err
	}
	// Keep our own copy: the etcd client may reuse nothing today, but the
	// snapshot holds Raw for as long as it serves.
	return gslb.DecodeKey(k, bytes.Clone(value), v)
}

func kindOf(key string) string {
	k, err := gslb.ParseKey(key)
	if err != nil {
		return kindUnknown
	}
	return k.Kind.String()
}

// reason renders a decode error for an operator, without repeating the key
// (logs carry it separately): "regions[1]: region mars does not exist".
func reason(err error) string {
	var parts []string
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var ke *gslb.KeyError
		if errors.As(e, &ke) {
			parts = append(parts, fieldReason(ke))
			return
		}
		parts = append(parts, e.Error())
	}
	walk(err)
	return strings.Join(parts, "; ")
}

func fieldReason(ke *gslb.KeyError) string {
	if ke.Field == "" {
		return ke.Err.Error()
	}
	return ke.Field + ": " + ke.Err.Error()
}

// newProblems returns the problems of key in next that it did not have in
// prev, rendered for an operator, or "". Problems are compared by message,
// not field: removing regions[0] renumbers the rest, and that is not a new
// problem.
func newProblems(prev, next *gslb.Snapshot, key string) string {
	if !next.HasProblem(key) {
		return ""
	}
	old := map[string]bool{}
	for _, p := range prev.ProblemsOf(key) {
		old[p.Err.Error()] = true
	}
	var fresh []string
	for _, p := range next.ProblemsOf(key) {
		if !old[p.Err.Error()] {
			fresh = append(fresh, fieldReason(p))
		}
	}
	return strings.Join(fresh, "; ")
}

// canonical keys the accepted entries by canonical key, as gslb.Build
// wants them. When two stored keys have the same canonical form, the one
// spelled canonically wins, else the first in byte order, so that every
// server picks the same; the others are returned as shadowed.
func canonical(accepted map[string]gslb.Entry) (map[string]gslb.Entry, map[string]string) {
	entries := make(map[string]gslb.Entry, len(accepted))
	owner := map[string]string{}
	shadowed := map[string]string{}
	for _, key := range slices.Sorted(maps.Keys(accepted)) {
		e := accepted[key]
		ck := e.Key.String()
		if other, ok := owner[ck]; ok {
			if key != ck {
				shadowed[key] = other
				continue
			}
			shadowed[other] = key
		}
		owner[ck] = key
		entries[ck] = e
	}
	for key := range shadowed {
		shadowed[key] = owner[accepted[key].Key.String()]
	}
	return entries, shadowed
}

func sameEntries(a, b map[string]gslb.Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for k, x := range a {
		y, ok := b[k]
		if !ok || x.ModRevision != y.ModRevision || !bytes.Equal(x.Raw, y.Raw) {
			return false
		}
	}
	return true
}
