package dnsserver

import (
	"crypto"
	"crypto/ecdsa"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// keyFlags is a CSK: Zone Key (256) + Secure Entry Point (1), RFC 4034
// §2.1.1. One key signs everything, the DNSKEY RRset included, and its DS
// sits in the parent: with an algorithm as small and fast as ECDSA P-256
// a KSK/ZSK split buys nothing but a second signature on DNSKEY answers.
const keyFlags = 257

// maxKeysPerZone bounds the keys that sign one zone. Two is a rollover
// (every RRset signed by both, RFC 6781 §4.1.1.2 double signature); more
// would only grow answers (each adds ~100 bytes per RRset, and a signed
// negative answer carries four RRsets) past what fits in 1232 bytes.
const maxKeysPerZone = 2

// ErrKey is wrapped by every error about a DNSSEC key file.
var ErrKey = errors.New("dnsserver: dnssec key")

// Key is a zone's DNSSEC signing key: ECDSA P-256 with SHA-256 (algorithm
// 13, RFC 6605) used as a combined signing key (flags 257). It is read
// from, and written to, a BIND-format pair K<zone>+013+<tag>.key (the
// DNSKEY record) and .private.
type Key struct {
	// Zone is the canonical zone name ("gslb.example."), the DNSKEY's
	// owner.
	Zone string
	// DNSKEY is the public key as published at the zone apex (its TTL is
	// replaced by the zone's when served).
	DNSKEY *dns.DNSKEY

	priv crypto.Signer
	tag  uint16
}

// Tag is the key tag (RFC 4034 Appendix B).
func (k *Key) Tag() uint16 { return k.tag }

// FileBase is the name of the key's files without extension, as BIND
// names them: "Kgslb.example.+013+12345".
func (k *Key) FileBase() string {
	return fmt.Sprintf("K%s+%03d+%05d", k.Zone, k.DNSKEY.Algorithm, k.tag)
}

// DS is the delegation signer record for the parent zone: SHA-256 digest
// (digest type 2, RFC 4509), which every validator supports; SHA-1 is
// deprecated (RFC 8624) and SHA-384 adds nothing for a P-256 key.
func (k *Key) DS() *dns.DS { return k.DNSKEY.ToDS(dns.SHA256) }

// GenerateKey returns a new signing key for zone.
func GenerateKey(zone string) (*Key, error) {
	zone, err := canonicalZone(zone)
	if err != nil {
		return nil, err
	}
	pub := &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: zone, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags:     keyFlags,
		Protocol:  3,
		Algorithm: dns.ECDSAP256SHA256,
	}
	priv, err := pub.Generate(256)
	if err != nil {
		return nil, fmt.Errorf("%w: generate: %w", ErrKey, err)
	}
	return &Key{Zone: zone, DNSKEY: pub, priv: priv.(*ecdsa.PrivateKey), tag: pub.KeyTag()}, nil
}

// WriteFiles writes the key pair into dir (created 0700 if missing):
// <FileBase>.private (mode 0600) first, then <FileBase>.key. It never
// overwrites a file; it returns the path of the .key file.
func (k *Key) WriteFiles(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("%w: %w", ErrKey, err)
	}
	base := filepath.Join(dir, k.FileBase())
	now := time.Now().UTC().Format("20060102150405")
	private := k.DNSKEY.PrivateKeyString(k.priv) +
		// BIND's timing metadata, so that dnssec-* tools read the file as
		// their own; meridian does not use it.
		"Created: " + now + "\nPublish: " + now + "\nActivate: " + now + "\n"
	if err := writeNew(base+".private", private, 0o600); err != nil {
		return "", err
	}
	public := fmt.Sprintf("; This is a key-signing key, keyid %d, for %s\n; Created by meridian dnssec keygen at %s\n%s\n",
		k.tag, k.Zone, time.Now().UTC().Format(time.RFC3339), k.DNSKEY.String())
	if err := writeNew(base+".key", public, 0o644); err != nil {
		os.Remove(base + ".private")
		return "", err
	}
	return base + ".key", nil
}

func writeNew(path, content string, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKey, err)
	}
	_, err = f.WriteString(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("%w: write %s: %w", ErrKey, path, err)
	}
	return nil
}

// LoadKeys reads every key pair K*.key/K*.private in dir. Other files are
// ignored. It fails on a key that is not algorithm 13 with flags 257, a
// .key without its .private, a private key that does not match its public
// key, a file name that does not match the key's zone and tag, and more
// than two keys for one zone.
func LoadKeys(dir string) ([]*Key, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "K*.key"))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	var keys []*Key
	var errs []error
	perZone := map[string]int{}
	for _, path := range paths {
		k, err := loadKey(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		perZone[k.Zone]++
		keys = append(keys, k)
	}
	for zone, n := range perZone {
		if n > maxKeysPerZone {
			errs = append(errs, fmt.Errorf("%w: %d keys for %s in %s, at most %d (two during a rollover)", ErrKey, n, zone, dir, maxKeysPerZone))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return keys, nil
}

// ReadKey reads one key pair; path is the .key file.
func ReadKey(path string) (*Key, error) { return loadKey(path) }

func loadKey(path string) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	rr, err := dns.ReadRR(f, path)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKey, path, err)
	}
	pub, ok := rr.(*dns.DNSKEY)
	if !ok {
		return nil, fmt.Errorf("%w: %s: holds %s, not a DNSKEY", ErrKey, path, typeName(rr))
	}
	switch {
	case pub.Algorithm != dns.ECDSAP256SHA256:
		return nil, fmt.Errorf("%w: %s: algorithm %d, only 13 (ECDSAP256SHA256) is supported", ErrKey, path, pub.Algorithm)
	case pub.Flags != keyFlags:
		return nil, fmt.Errorf("%w: %s: flags %d, want %d (a combined signing key)", ErrKey, path, pub.Flags, keyFlags)
	case pub.Protocol != 3:
		return nil, fmt.Errorf("%w: %s: protocol %d, want 3", ErrKey, path, pub.Protocol)
	}
	zone, err := canonicalZone(pub.Hdr.Name)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKey, path, err)
	}
	pub.Hdr.Name = zone
	k := &Key{Zone: zone, DNSKEY: pub, tag: pub.KeyTag()}
	if got, want := filepath.Base(path), k.FileBase()+".key"; !strings.EqualFold(got, want) {
		return nil, fmt.Errorf("%w: %s holds the key %s", ErrKey, path, want)
	}
	privPath := strings.TrimSuffix(path, ".key") + ".private"
	pf, err := os.Open(privPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s has no private key %s", ErrKey, path, privPath)
		}
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	priv, err := pub.ReadPrivateKey(pf, privPath)
	pf.Close()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKey, privPath, err)
	}
	ec, ok := priv.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s: not an ECDSA key", ErrKey, privPath)
	}
	// ReadPrivateKey copies the public half from the DNSKEY without
	// checking it against the private scalar: derive it and compare.
	var derived *ecdsa.PrivateKey
	raw, err := ec.Bytes()
	if err == nil {
		derived, err = ecdsa.ParseRawPrivateKey(ec.Curve, raw)
	}
	var pt []byte
	if err == nil {
		pt, err = derived.PublicKey.Bytes() // 0x04 || X || Y
	}
	if err != nil || base64.StdEncoding.EncodeToString(pt[1:]) != pub.PublicKey {
		return nil, fmt.Errorf("%w: %s does not match the public key in %s", ErrKey, privPath, path)
	}
	k.priv = derived
	return k, nil
}

func canonicalZone(zone string) (string, error) {
	zone = strings.ToLower(dns.Fqdn(zone))
	if _, ok := dns.IsDomainName(zone); !ok || zone == "." {
		return "", fmt.Errorf("%w: %q is not a zone name", ErrKey, zone)
	}
	return zone, nil
}

func typeName(rr dns.RR) string {
	if s, ok := dns.TypeToString[rr.Header().Rrtype]; ok {
		return s
	}
	return fmt.Sprintf("TYPE%d", rr.Header().Rrtype)
}
