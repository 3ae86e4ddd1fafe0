package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/meridian-gslb/meridian/gslb"
)

// stateVersion is the format of the state file; a reader refuses others.
const stateVersion = 1

// state is the on-disk copy of the last good keyspace: enough to serve a
// cold start while etcd is unreachable. Entries map keys (relative to the
// prefix, canonical) to their JSON exactly as stored in etcd, as strings so
// that the file is diffable and the bytes come back unchanged.
type state struct {
	Version  int               `json:"version"`
	Revision int64             `json:"revision"`
	Prefix   string            `json:"prefix"`
	Entries  map[string]string `json:"entries"`
}

func stateOf(s *gslb.Snapshot, prefix string) *state {
	st := &state{Version: stateVersion, Revision: s.Revision, Prefix: prefix, Entries: map[string]string{}}
	for k, e := range s.Entries() {
		st.Entries[k] = string(e.Raw)
	}
	return st
}

// changes returns the entries as a full batch, keys sorted for determinism.
func (st *state) changes() []change {
	out := make([]change, 0, len(st.Entries))
	for _, k := range slices.Sorted(maps.Keys(st.Entries)) {
		out = append(out, change{key: k, value: []byte(st.Entries[k])})
	}
	return out
}

func readState(path string) (*state, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("store: state file %s: %w", path, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("store: state file %s: version %d, want %d", path, st.Version, stateVersion)
	}
	return &st, nil
}

// writeState replaces path atomically: a temporary file in the same
// directory, fsynced, renamed over path, and the directory fsynced so that
// the rename survives a crash. A reader sees the old file or the new one,
// never half of one.
func writeState(path string, st *state) (err error) {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("store: state file %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("store: state file %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
			err = fmt.Errorf("store: state file %s: %w", path, err)
		}
	}()
	if _, err = f.Write(append(b, '\n')); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	// Some filesystems cannot fsync a directory; the file is in place
	// either way, so that is not worth failing for.
	if serr := d.Sync(); serr != nil && !errors.Is(serr, os.ErrInvalid) {
		_ = d.Close()
		return serr
	}
	return d.Close()
}
