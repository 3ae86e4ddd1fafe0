package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/meridian-gslb/meridian/dnsserver"
)

const dnssecUsage = `Usage:
  meridian dnssec keygen ZONE --dir DIR   write a new signing key for ZONE into DIR
  meridian dnssec ds ZONE --dir DIR       print the DS record of each key of ZONE in DIR, for the parent zone

Keys are ECDSA P-256 (algorithm 13) combined signing keys (flags 257), in
BIND's file format: K<zone>+013+<tag>.key (the DNSKEY record) and
K<zone>+013+<tag>.private (mode 0600). 'meridian dns --dnssec-keys DIR'
signs every zone that has a key in DIR. A zone has one key, two during a
rollover (see dnsserver/README.md).
`

func runDNSSEC(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dnssec", stderr)
	dir := fs.String("dir", "", "directory of the key pairs (what 'meridian dns --dnssec-keys' reads)")
	fs.Usage = func() { fmt.Fprint(stderr, dnssecUsage); fs.PrintDefaults() }
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || *dir == "" {
		fs.Usage()
		return errUsage
	}
	verb, zone := pos[0], pos[1]
	switch verb {
	case "keygen":
		return dnssecKeygen(zone, *dir, stdout, stderr)
	case "ds":
		return dnssecDS(zone, *dir, stdout)
	}
	fs.Usage()
	return errUsage
}

// dnssecKeygen writes a new key pair and prints its file name without
// extension, as dnssec-keygen does.
func dnssecKeygen(zone, dir string, stdout, stderr io.Writer) error {
	k, err := dnsserver.GenerateKey(zone)
	if err != nil {
		return err
	}
	existing, err := zoneKeys(k.Zone, dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if len(existing) >= 2 {
		return fmt.Errorf("%s already has %d keys in %s (at most 2, during a rollover): remove the retired one first", k.Zone, len(existing), dir)
	}
	if _, err := k.WriteFiles(dir); err != nil {
		return err
	}
	fmt.Fprintln(stdout, k.FileBase())
	if len(existing) == 1 {
		fmt.Fprintf(stderr, "%s now has two keys: both are published and both sign once the servers restart (rollover step 1)\n", k.Zone)
	}
	return nil
}

// dnssecDS prints the DS records of the zone's keys (SHA-256), without a
// TTL: the parent sets it.
func dnssecDS(zone, dir string, stdout io.Writer) error {
	keys, err := zoneKeys(zone, dir)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return fmt.Errorf("no key for %s in %s", strings.ToLower(zone), dir)
	}
	for _, k := range keys {
		ds := k.DS()
		fmt.Fprintf(stdout, "%s\tIN\tDS\t%d %d %d %s\n", ds.Hdr.Name, ds.KeyTag, ds.Algorithm, ds.DigestType, strings.ToUpper(ds.Digest))
	}
	return nil
}

func zoneKeys(zone, dir string) ([]*dnsserver.Key, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	all, err := dnsserver.LoadKeys(dir)
	if err != nil {
		return nil, err
	}
	zone = strings.ToLower(zone)
	if !strings.HasSuffix(zone, ".") {
		zone += "."
	}
	var keys []*dnsserver.Key
	for _, k := range all {
		if k.Zone == zone {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// loadDNSSEC reads the keys of --dnssec-keys for dnsserver.Options. An
// empty dir is no DNSSEC; a directory without keys is an error (signing
// was asked for and nothing would be signed).
func loadDNSSEC(dir string, logger *slog.Logger) (dnsserver.DNSSECOptions, error) {
	if dir == "" {
		return dnsserver.DNSSECOptions{}, nil
	}
	keys, err := dnsserver.LoadKeys(dir)
	if err != nil {
		return dnsserver.DNSSECOptions{}, fmt.Errorf("--dnssec-keys: %w", err)
	}
	if len(keys) == 0 {
		return dnsserver.DNSSECOptions{}, fmt.Errorf("--dnssec-keys: no key pairs K*.key/K*.private in %s ('meridian dnssec keygen ZONE --dir %s')", dir, dir)
	}
	for _, k := range keys {
		logger.Info("dnssec key loaded", "component", "dns", "zone", k.Zone, "key", k.FileBase())
	}
	return dnsserver.DNSSECOptions{Keys: keys}, nil
}
