package main

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dnsserver"
)

func TestDNSSECCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	out, err := runCLI(t, "dnssec", "keygen", "gslb.example", "--dir", dir)
	if err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	base := strings.TrimSpace(out)
	if !strings.HasPrefix(base, "Kgslb.example.+013+") {
		t.Fatalf("keygen printed %q, want the key's file name", out)
	}
	st, err := os.Stat(filepath.Join(dir, base+".private"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key: %v, mode %v", err, st.Mode().Perm())
	}
	k, err := dnsserver.ReadKey(filepath.Join(dir, base+".key"))
	if err != nil {
		t.Fatal(err)
	}

	out, err = runCLI(t, "dnssec", "ds", "GSLB.example.", "--dir", dir)
	if err != nil {
		t.Fatalf("ds: %v\n%s", err, out)
	}
	rr, err := dns.NewRR(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("ds printed %q: %v", out, err)
	}
	ds, ok := rr.(*dns.DS)
	if want := k.DS(); !ok || ds.KeyTag != want.KeyTag || ds.DigestType != dns.SHA256 || !strings.EqualFold(ds.Digest, want.Digest) {
		t.Errorf("ds printed %v, want %v", rr, want)
	}

	// A second key starts a rollover: both DS records are printed.
	out, err = runCLI(t, "dnssec", "keygen", "gslb.example.", "--dir", dir)
	if err != nil || !strings.Contains(out, "two keys") {
		t.Fatalf("second keygen: %v\n%s", err, out)
	}
	out, err = runCLI(t, "dnssec", "ds", "gslb.example.", "--dir", dir)
	if err != nil || strings.Count(out, "\tDS\t") != 2 {
		t.Errorf("ds with two keys: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "dnssec", "keygen", "gslb.example.", "--dir", dir); err == nil {
		t.Errorf("third keygen succeeded:\n%s", out)
	}

	if _, err := runCLI(t, "dnssec", "ds", "other.example.", "--dir", dir); err == nil || !strings.Contains(err.Error(), "no key for other.example.") {
		t.Errorf("ds for a zone without key: %v", err)
	}
	for _, args := range [][]string{
		{"dnssec"},
		{"dnssec", "keygen", "gslb.example."},
		{"dnssec", "rotate", "gslb.example.", "--dir", dir},
	} {
		if _, err := runCLI(t, args...); !errors.Is(err, errUsage) {
			t.Errorf("%v: err = %v, want usage", args, err)
		}
	}

	// What 'meridian dns --dnssec-keys' loads.
	logger := slog.New(slog.DiscardHandler)
	if opts, err := loadDNSSEC(dir, logger); err != nil || len(opts.Keys) != 2 {
		t.Errorf("loadDNSSEC = %d keys, %v", len(opts.Keys), err)
	}
	if opts, err := loadDNSSEC("", logger); err != nil || opts.Keys != nil {
		t.Errorf("loadDNSSEC(\"\") = %v, %v", opts, err)
	}
	if _, err := loadDNSSEC(t.TempDir(), logger); err == nil || !strings.Contains(err.Error(), "no key pairs") {
		t.Errorf("loadDNSSEC(empty dir) = %v", err)
	}
}
