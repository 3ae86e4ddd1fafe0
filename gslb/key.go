package gslb

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Kind is the kind of value a key holds.
type Kind uint8

// Key kinds, one per keyspace directory (docs/keyspace.md).
const (
	KindZone Kind = iota + 1
	KindRegion
	KindService
	KindPool
	KindNetwork
	KindProxyStatus
	KindProbeStatus
)

var kindNames = [...]string{
	KindZone:        "zone",
	KindRegion:      "region",
	KindService:     "service",
	KindPool:        "pool",
	KindNetwork:     "network",
	KindProxyStatus: "proxy_status",
	KindProbeStatus: "probe_status",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// IsStatus reports whether keys of this kind carry live health rather than
// operator policy.
func (k Kind) IsStatus() bool { return k == KindProxyStatus || k == KindProbeStatus }

// Key is a parsed key, relative to the keyspace prefix.
type Key struct {
	Kind Kind
	// Name is the zone, region, service, network or pool name; for status
	// keys, the instance (proxy) or target (probe).
	Name string
	// Parent is the region of a pool or proxy status, the prober of a probe
	// status; empty otherwise.
	Parent string
}

// ErrBadKey is returned for keys outside the keyspace's layout.
var ErrBadKey = errors.New("gslb: bad key")

// ParseKey parses a key relative to the prefix ("services/www.gslb.example.").
// Names are canonicalised: domain names lower case with a trailing dot.
func ParseKey(rel string) (Key, error) {
	dir, rest, ok := strings.Cut(rel, "/")
	if !ok || rest == "" {
		return Key{}, fmt.Errorf("%w %q: want <kind>/<name>", ErrBadKey, rel)
	}
	var k Key
	var err error
	switch dir {
	case "zones":
		k.Kind = KindZone
		k.Name, err = CanonicalName(rest)
	case "services":
		k.Kind = KindService
		k.Name, err = CanonicalName(rest)
	case "regions":
		k.Kind = KindRegion
		k.Name, err = rest, checkRegionName(rest)
	case "pools":
		k.Kind = KindPool
		k.Parent, k.Name, err = twoParts(rest, checkRegionName, checkID)
	case "geo":
		name, ok := strings.CutPrefix(rest, "networks/")
		if !ok {
			return Key{}, fmt.Errorf("%w %q: want geo/networks/<name>", ErrBadKey, rel)
		}
		k.Kind = KindNetwork
		k.Name, err = name, checkID(name)
	case "status":
		sub, rest, _ := strings.Cut(rest, "/")
		switch sub {
		case "proxies":
			k.Kind = KindProxyStatus
			k.Parent, k.Name, err = twoParts(rest, checkRegionName, checkID)
		case "probes":
			k.Kind = KindProbeStatus
			k.Parent, k.Name, err = twoParts(rest, checkID, checkAddr)
		default:
			return Key{}, fmt.Errorf("%w %q: want status/proxies/<region>/<instance> or status/probes/<prober>/<address>", ErrBadKey, rel)
		}
	default:
		return Key{}, fmt.Errorf("%w %q: unknown directory %q (zones, regions, services, pools, geo/networks, status)", ErrBadKey, rel, dir)
	}
	if err != nil {
		return Key{}, fmt.Errorf("%w %q: %w", ErrBadKey, rel, err)
	}
	return k, nil
}

// String returns the key relative to the prefix, in canonical form.
func (k Key) String() string {
	switch k.Kind {
	case KindZone:
		return "zones/" + k.Name
	case KindRegion:
		return "regions/" + k.Name
	case KindService:
		return "services/" + k.Name
	case KindPool:
		return "pools/" + k.Parent + "/" + k.Name
	case KindNetwork:
		return "geo/networks/" + k.Name
	case KindProxyStatus:
		return "status/proxies/" + k.Parent + "/" + k.Name
	case KindProbeStatus:
		return "status/probes/" + k.Parent + "/" + k.Name
	}
	return "?/" + k.Name
}

func twoParts(s string, first, second func(string) error) (string, string, error) {
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return "", "", errors.New("want two path segments")
	}
	if err := first(a); err != nil {
		return "", "", err
	}
	if err := second(b); err != nil {
		return "", "", err
	}
	return a, b, nil
}

// checkRegionName accepts DNS-label-like names: they appear in metrics
// labels, logs and Terraform, where anything fancier causes grief.
func checkRegionName(s string) error {
	if len(s) == 0 || len(s) > 63 {
		return fmt.Errorf("region name %q: want 1 to 63 characters", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' && i > 0 && i < len(s)-1
		if !ok {
			return fmt.Errorf("region name %q: want lower-case letters, digits and inner hyphens", s)
		}
	}
	return nil
}

// checkID accepts instance, prober, pool and network ids.
func checkID(s string) error {
	if len(s) == 0 || len(s) > 128 {
		return fmt.Errorf("id %q: want 1 to 128 characters", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return fmt.Errorf("id %q: want letters, digits, '-', '_', '.' and ':'", s)
		}
	}
	return nil
}

func checkAddr(s string) error {
	_, err := netip.ParseAddr(s)
	return err
}

// CanonicalName returns name in lower case with a trailing dot, or an error
// when it is not a valid host name (LDH labels, underscores allowed for
// service labels such as _dmarc).
func CanonicalName(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty name")
	}
	if name == "." {
		return "", errors.New("the root is not a valid name here")
	}
	n := strings.ToLower(name)
	if !strings.HasSuffix(n, ".") {
		n += "."
	}
	if len(n) > 254 {
		return "", fmt.Errorf("name %q: longer than 253 characters", name)
	}
	for label := range strings.SplitSeq(n[:len(n)-1], ".") {
		if len(label) == 0 || len(label) > 63 {
			return "", fmt.Errorf("name %q: label of %d characters (want 1 to 63)", name, len(label))
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' && i > 0 && i < len(label)-1) {
				return "", fmt.Errorf("name %q: label %q has %q (want letters, digits, inner hyphens, underscore)", name, label, c)
			}
		}
	}
	return n, nil
}

// InZone reports whether canonical name is zone or below it.
func InZone(name, zone string) bool {
	if name == zone {
		return true
	}
	return strings.HasSuffix(name, zone) && name[len(name)-len(zone)-1] == '.'
}
