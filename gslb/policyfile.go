package gslb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// ParsePolicyFile reads a policy file: one JSON object whose members are
// keys relative to the prefix and whose values are the values to put.
// Values are returned compacted, as they will be stored.
func ParsePolicyFile(b []byte) (map[string][]byte, error) {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("want one JSON object of key -> value: %w", err)
	}
	if m == nil {
		return nil, fmt.Errorf("want one JSON object of key -> value, got null")
	}
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = compactJSON(v)
	}
	return out, nil
}

func compactJSON(b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}

// CheckPolicy validates the values of file as the servers would on top of
// live (the raw values etcd holds now; nil for the file alone): each value
// alone, then the references of the whole. It returns the values keyed by
// canonical key, and every problem of the file's keys.
func CheckPolicy(file, live map[string][]byte, v Validators) (map[string][]byte, []error) {
	entries := map[string]Entry{}
	for k, val := range live {
		if e, err := Decode(k, val, v); err == nil {
			entries[e.Key.String()] = e
		}
	}
	var errs []error
	canon := map[string][]byte{}
	for _, k := range slices.Sorted(maps.Keys(file)) {
		e, err := Decode(k, file[k], v)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ks := e.Key.String()
		if _, dup := canon[ks]; dup {
			errs = append(errs, &KeyError{Key: ks, Err: fmt.Errorf("given twice (once as %q)", k)})
		}
		canon[ks] = compactJSON(file[k])
		entries[ks] = e
	}
	snap := Build(entries, 0)
	for _, p := range snap.Problems() {
		if _, ours := canon[p.Key]; ours {
			errs = append(errs, p)
		}
	}
	return canon, errs
}
