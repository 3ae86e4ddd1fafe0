package dnsserver

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestKeyFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	k, err := GenerateKey("GSLB.example")
	if err != nil {
		t.Fatal(err)
	}
	if k.Zone != "gslb.example." || k.DNSKEY.Flags != 257 || k.DNSKEY.Algorithm != dns.ECDSAP256SHA256 {
		t.Fatalf("GenerateKey: zone %s flags %d algorithm %d", k.Zone, k.DNSKEY.Flags, k.DNSKEY.Algorithm)
	}
	path, err := k.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, k.FileBase()+".key"); path != want || !strings.HasPrefix(filepath.Base(path), "Kgslb.example.+013+") {
		t.Errorf("WriteFiles = %s, want %s", path, want)
	}
	st, err := os.Stat(strings.TrimSuffix(path, ".key") + ".private")
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("private key file: %v, mode %v, want 0600", err, st.Mode().Perm())
	}
	if _, err := k.WriteFiles(dir); err == nil {
		t.Error("WriteFiles over existing files succeeded")
	}
	keys, err := LoadKeys(dir)
	if err != nil || len(keys) != 1 {
		t.Fatalf("LoadKeys = %v, %v", keys, err)
	}
	got := keys[0]
	if got.Zone != k.Zone || got.Tag() != k.Tag() || got.DNSKEY.PublicKey != k.DNSKEY.PublicKey {
		t.Errorf("loaded %s %d, wrote %s %d", got.Zone, got.Tag(), k.Zone, k.Tag())
	}
	// The loaded key signs what the written public key verifies.
	rr, _ := dns.NewRR("www.gslb.example. 60 IN A 192.0.2.1")
	sig := &dns.RRSIG{Algorithm: 13, KeyTag: got.Tag(), SignerName: got.Zone, Inception: 1, Expiration: 1 << 31}
	if err := sig.Sign(got.priv, []dns.RR{rr}); err != nil {
		t.Fatal(err)
	}
	if err := sig.Verify(k.DNSKEY, []dns.RR{rr}); err != nil {
		t.Errorf("signature of the loaded key does not verify with the written one: %v", err)
	}
	ds := got.DS()
	if ds.DigestType != dns.SHA256 || ds.KeyTag != k.Tag() || ds.Algorithm != 13 || len(ds.Digest) != 64 {
		t.Errorf("DS = %v", ds)
	}
	// BIND-style files load: comments, no TTL, upper-case hex, extra
	// metadata in the private file.
	bindDir := t.TempDir()
	pub := "; This is a key-signing key, keyid 1, for gslb.example.\n; Created: 20260101000000\ngslb.example. IN DNSKEY 257 3 13 " + k.DNSKEY.PublicKey + "\n"
	writeFile(t, filepath.Join(bindDir, k.FileBase()+".key"), pub)
	priv, _ := os.ReadFile(strings.TrimSuffix(path, ".key") + ".private")
	writeFile(t, filepath.Join(bindDir, k.FileBase()+".private"), string(priv)+"Inactive: 20300101000000\n")
	writeFile(t, filepath.Join(bindDir, "README"), "not a key")
	if keys, err := LoadKeys(bindDir); err != nil || len(keys) != 1 {
		t.Errorf("LoadKeys(BIND files) = %v, %v", keys, err)
	}
}

func TestLoadKeysErrors(t *testing.T) {
	k, _ := GenerateKey("gslb.example.")
	other, _ := GenerateKey("gslb.example.")
	good := t.TempDir()
	if _, err := k.WriteFiles(good); err != nil {
		t.Fatal(err)
	}
	read := func(dir, ext string) string {
		b, err := os.ReadFile(filepath.Join(dir, k.FileBase()+ext))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	pub, priv := read(good, ".key"), read(good, ".private")
	otherDir := t.TempDir()
	if _, err := other.WriteFiles(otherDir); err != nil {
		t.Fatal(err)
	}
	otherPriv, _ := os.ReadFile(filepath.Join(otherDir, other.FileBase()+".private"))

	for _, tc := range []struct {
		name  string
		files map[string]string // name -> content; "" for the good files' names
		want  string
	}{
		{"no private", map[string]string{k.FileBase() + ".key": pub}, "no private key"},
		{"wrong private", map[string]string{k.FileBase() + ".key": pub, k.FileBase() + ".private": string(otherPriv)}, "does not match"},
		{"not a DNSKEY", map[string]string{k.FileBase() + ".key": "gslb.example. IN A 192.0.2.1\n", k.FileBase() + ".private": priv}, "not a DNSKEY"},
		{"ZSK", map[string]string{k.FileBase() + ".key": strings.Replace(pub, "257 3 13", "256 3 13", 1), k.FileBase() + ".private": priv}, "flags 256"},
		{"RSA", map[string]string{k.FileBase() + ".key": strings.Replace(pub, "257 3 13", "257 3 8", 1), k.FileBase() + ".private": priv}, "algorithm 8"},
		{"renamed", map[string]string{"Kother.example.+013+00001.key": pub, "Kother.example.+013+00001.private": priv}, "holds the key"},
		{"garbage", map[string]string{k.FileBase() + ".key": "garbage\n", k.FileBase() + ".private": priv}, k.FileBase()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				writeFile(t, filepath.Join(dir, name), content)
			}
			_, err := LoadKeys(dir)
			if err == nil || !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadKeys = %v, want ErrKey mentioning %q", err, tc.want)
			}
		})
	}
	// Three keys for a zone.
	dir := t.TempDir()
	for range 3 {
		k, _ := GenerateKey("gslb.example.")
		if _, err := k.WriteFiles(dir); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := LoadKeys(dir); err == nil || !strings.Contains(err.Error(), "3 keys for gslb.example.") {
		t.Errorf("LoadKeys(3 keys) = %v", err)
	}
	if _, err := LoadKeys(filepath.Join(dir, "missing")); err == nil {
		t.Error("LoadKeys(missing dir) succeeded")
	}
	if _, err := GenerateKey("bad..name"); err == nil {
		t.Error("GenerateKey(bad..name) succeeded")
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
