package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/gslb/store"
	clientv3 "go.etcd.io/etcd/client/v3"
)

const policyUsage = `Usage:
  meridian policy validate FILE [--against-etcd]   check a policy file (exit 1 on any problem)
  meridian policy apply FILE [--dry-run]           validate against etcd, then put the changed keys in one transaction
                                                   (several past --max-txn-ops, in reference order)
  meridian policy get KEY                          print one value ("services/www.gslb.example.")
  meridian policy list [DIR]                       list keys, optionally under a directory ("regions/")
  meridian policy dump                             print all policy (not status) as a policy file
  meridian policy delete KEY                       delete one key

A policy file is one JSON object whose members are keys relative to the
prefix and whose values are the values to put:
  {"regions/eu-west": {"location": {"lat": 53.35, "lon": -6.26}, "proxies": ["192.0.2.10"]}}
`

func runPolicy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("policy", stderr)
	var ef etcdFlags
	ef.register(fs)
	against := fs.Bool("against-etcd", false, "validate: also check references against what etcd holds")
	dryRun := fs.Bool("dry-run", false, "apply: validate and show what would change, write nothing")
	maxOps := fs.Int("max-txn-ops", 128, "apply: the most keys one etcd transaction may carry (etcd's --max-txn-ops); a larger change is written in several, networks, zones, regions, pools, then services")
	fs.Usage = func() { fmt.Fprint(stderr, policyUsage); fs.PrintDefaults() }
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return errUsage
	}
	need := func(n int) error {
		if len(pos) != n+1 {
			fs.Usage()
			return errUsage
		}
		return nil
	}
	verb := pos[0]
	if verb == "validate" && !*against {
		if err := need(1); err != nil {
			return err
		}
		return policyValidate(pos[1], nil, stdout)
	}
	cli, err := ef.client(nil)
	if err != nil {
		return err
	}
	defer cli.Close()
	prefix := ef.normPrefix()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	switch verb {
	case "validate", "apply":
		if err := need(1); err != nil {
			return err
		}
		live, _, err := store.List(ctx, cli, prefix)
		if err != nil {
			return fmt.Errorf("read etcd: %w", err)
		}
		if verb == "validate" {
			return policyValidate(pos[1], live, stdout)
		}
		if *maxOps < 1 {
			return fmt.Errorf("--max-txn-ops %d: want 1 or more", *maxOps)
		}
		return policyApply(ctx, cli, prefix, pos[1], live, *dryRun, *maxOps, stdout)
	case "get":
		if err := need(1); err != nil {
			return err
		}
		k, err := gslb.ParseKey(pos[1])
		if err != nil {
			return err
		}
		v, _, err := store.Get(ctx, cli, prefix, k.String())
		if err != nil {
			return err
		}
		return writeJSON(stdout, v)
	case "list":
		if len(pos) > 2 {
			fs.Usage()
			return errUsage
		}
		all, _, err := store.List(ctx, cli, prefix)
		if err != nil {
			return err
		}
		for _, k := range slices.Sorted(maps.Keys(all)) {
			if len(pos) == 1 || strings.HasPrefix(k, pos[1]) {
				fmt.Fprintln(stdout, k)
			}
		}
		return nil
	case "dump":
		all, _, err := store.List(ctx, cli, prefix)
		if err != nil {
			return err
		}
		out := map[string]json.RawMessage{}
		for k, v := range all {
			if pk, err := gslb.ParseKey(k); err == nil && !pk.Kind.IsStatus() {
				out[k] = v
			}
		}
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	case "delete":
		if err := need(1); err != nil {
			return err
		}
		k, err := gslb.ParseKey(pos[1])
		if err != nil {
			return err
		}
		rev, err := store.Apply(ctx, cli, prefix, nil, []string{k.String()})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "deleted %s at revision %d\n", k, rev)
		return nil
	}
	fs.Usage()
	return errUsage
}

// readPolicyFile reads a policy file: one JSON object, key -> value.
func readPolicyFile(path string) (map[string][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := gslb.ParsePolicyFile(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

func checkPolicy(file, live map[string][]byte) (map[string][]byte, []error) {
	return gslb.CheckPolicy(file, live, validators())
}

func policyValidate(path string, live map[string][]byte, stdout io.Writer) error {
	file, err := readPolicyFile(path)
	if err != nil {
		return err
	}
	canon, errs := checkPolicy(file, live)
	for _, e := range errs {
		fmt.Fprintln(stdout, "error:", e)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: %d problem(s)", path, len(errs))
	}
	fmt.Fprintf(stdout, "%s: %d key(s) valid\n", path, len(canon))
	return nil
}

func policyApply(ctx context.Context, cli *clientv3.Client, prefix, path string, live map[string][]byte, dryRun bool, maxOps int, stdout io.Writer) error {
	file, err := readPolicyFile(path)
	if err != nil {
		return err
	}
	canon, errs := checkPolicy(file, live)
	for _, e := range errs {
		fmt.Fprintln(stdout, "error:", e)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: %d problem(s); nothing applied", path, len(errs))
	}
	puts := map[string][]byte{}
	for _, k := range slices.Sorted(maps.Keys(canon)) {
		old, ok := live[k]
		switch {
		case !ok:
			fmt.Fprintln(stdout, "+", k)
		case !bytes.Equal(old, canon[k]):
			fmt.Fprintln(stdout, "~", k)
		default:
			continue
		}
		puts[k] = canon[k]
	}
	if len(puts) == 0 {
		fmt.Fprintln(stdout, "no changes")
		return nil
	}
	if dryRun {
		fmt.Fprintf(stdout, "dry run: %d key(s) would change\n", len(puts))
		return nil
	}
	batches := applyBatches(puts, maxOps)
	var first int64
	for i, b := range batches {
		rev, err := store.Apply(ctx, cli, prefix, b, nil)
		if err != nil {
			if i > 0 {
				return fmt.Errorf("transaction %d of %d: %w (the first %d, revisions %d and on, were applied; run apply again to finish)", i+1, len(batches), err, i, first)
			}
			return err
		}
		if i == 0 {
			first = rev
		}
		if len(batches) == 1 {
			fmt.Fprintf(stdout, "applied %d key(s) at revision %d\n", len(puts), rev)
		} else if i == len(batches)-1 {
			fmt.Fprintf(stdout, "applied %d key(s) in %d transactions, revisions %d to %d\n", len(puts), len(batches), first, rev)
		}
	}
	return nil
}

// applyOrder is the order in which a policy too large for one etcd
// transaction is written: what is referred to before what refers to it
// (a service names its zone's apex and its regions, a pool its region), so
// that every revision in between is a consistent policy and no server
// rejects a service for a region that is on its way.
var applyOrder = []gslb.Kind{gslb.KindNetwork, gslb.KindZone, gslb.KindRegion, gslb.KindPool, gslb.KindService}

// applyBatches splits puts into transactions of at most maxOps keys: one
// when it fits (all keys at one revision), else in applyOrder.
func applyBatches(puts map[string][]byte, maxOps int) []map[string][]byte {
	if len(puts) <= maxOps {
		return []map[string][]byte{puts}
	}
	rank := func(k string) int {
		pk, err := gslb.ParseKey(k)
		if err != nil {
			return len(applyOrder)
		}
		if i := slices.Index(applyOrder, pk.Kind); i >= 0 {
			return i
		}
		return len(applyOrder)
	}
	keys := slices.SortedFunc(maps.Keys(puts), func(a, b string) int {
		if c := rank(a) - rank(b); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	var out []map[string][]byte
	for c := range slices.Chunk(keys, maxOps) {
		b := make(map[string][]byte, len(c))
		for _, k := range c {
			b[k] = puts[k]
		}
		out = append(out, b)
	}
	return out
}

func writeJSON(w io.Writer, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		// Not JSON (written by hand with etcdctl): show it as it is.
		buf.Reset()
		buf.Write(raw)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}
