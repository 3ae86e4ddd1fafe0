package probes

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Kind names a check protocol.
type Kind string

// The check kinds.
const (
	KindHTTP  Kind = "http"
	KindHTTPS Kind = "https"
	KindTCP   Kind = "tcp"
	KindDNS   Kind = "dns"
)

func (k Kind) isHTTP() bool { return k == KindHTTP || k == KindHTTPS }

// Initial states, for Check.InitialState.
const (
	InitialUp   = "up"
	InitialDown = "down"
)

// Defaults applied by WithDefaults. See README.md for the reasoning behind each.
const (
	// HAProxy's "inter 2000ms": fast enough that fall 3 notices a dead target in about 6 s,
	// slow enough that a few probers times a few hundred targets stay cheap.
	DefaultInterval = 2 * time.Second
	// Half the interval, so a slow answer is a failure well before the next check is due.
	DefaultTimeout = time.Second
	// HAProxy's rise 2 / fall 3: one good answer does not bring back a flapping target,
	// one lost packet does not take down a healthy one.
	DefaultRise = 2
	DefaultFall = 3
	// "down": a target nobody has checked yet is not advertised. Only the first result decides
	// (see doc.go), so a healthy target is up after one check, not after rise checks.
	DefaultInitialState = InitialDown

	DefaultPath         = "/healthz"
	DefaultMethod       = "GET"
	DefaultExpectStatus = "200-399" // HAProxy's default for httpchk: 2xx and 3xx are up
	DefaultDNSName      = "."
	DefaultDNSType      = "SOA"
	DefaultDNSTransport = "udp"
	DefaultExpectRcode  = "NOERROR"
)

const (
	// MinInterval is the shortest interval Validate accepts. Checks more often than ten per second
	// per target are almost always a typo ("2ms" for "2s"), and the load multiplies by probers
	// times targets.
	MinInterval = 100 * time.Millisecond

	// maxBodyBytes caps how much of an HTTP response body is read when looking for expect_body.
	// Health pages are small; a larger body is not read further, so a check cannot be made to
	// buffer an arbitrary amount of memory.
	maxBodyBytes = 64 << 10
)

// Check is the definition of a health check, as found in policy JSON. The zero value is a valid
// HTTP check once WithDefaults has filled it in. Fields that do not apply to the Kind must be
// left empty; Validate reports them, so a misplaced setting is never silently ignored.
type Check struct {
	Kind          Kind   `json:"kind"`                      // http (default), https, tcp, dns
	Port          int    `json:"port,omitempty"`            // overrides the target's port; 0 keeps it
	Path          string `json:"path,omitempty"`            // http: request path and query (default /healthz)
	Method        string `json:"method,omitempty"`          // http: GET (default) or HEAD
	Host          string `json:"host,omitempty"`            // http: Host header, and TLS server name for https
	ExpectStatus  string `json:"expect_status,omitempty"`   // http: "200-399" (default), "200", "2xx,404"
	ExpectBody    string `json:"expect_body,omitempty"`     // http: substring of the first 64 KiB of the body
	TLSSkipVerify bool   `json:"tls_skip_verify,omitempty"` // https: do not verify the certificate
	DNSName       string `json:"dns_name,omitempty"`        // dns: question name (default ".")
	DNSType       string `json:"dns_type,omitempty"`        // dns: question type (default SOA)
	DNSTransport  string `json:"dns_transport,omitempty"`   // dns: udp (default) or tcp
	ExpectRcode   string `json:"expect_rcode,omitempty"`    // dns: "NOERROR" (default), "NOERROR,NXDOMAIN"

	Interval     Duration `json:"interval,omitempty"`      // time between checks (default 2s)
	Timeout      Duration `json:"timeout,omitempty"`       // per check (default 1s, at most interval)
	Rise         int      `json:"rise,omitempty"`          // consecutive successes to go up (default 2)
	Fall         int      `json:"fall,omitempty"`          // consecutive failures to go down (default 3)
	InitialState string   `json:"initial_state,omitempty"` // "down" (default) or "up"
}

// WithDefaults returns c with every empty field that has a default filled in. Defaults that only
// make sense for one kind (path, dns_name, …) are filled in for that kind only. It never
// changes a field that is set, so it is idempotent.
func (c Check) WithDefaults() Check {
	if c.Kind == "" {
		c.Kind = KindHTTP
	}
	if c.Interval == 0 {
		c.Interval = Duration(DefaultInterval)
	}
	if c.Timeout == 0 {
		// A short interval implies a short timeout rather than an invalid check.
		c.Timeout = Duration(min(DefaultTimeout, time.Duration(c.Interval)))
	}
	if c.Rise == 0 {
		c.Rise = DefaultRise
	}
	if c.Fall == 0 {
		c.Fall = DefaultFall
	}
	if c.InitialState == "" {
		c.InitialState = DefaultInitialState
	}
	switch {
	case c.Kind.isHTTP():
		if c.Path == "" {
			c.Path = DefaultPath
		}
		if c.Method == "" {
			c.Method = DefaultMethod
		}
		if c.ExpectStatus == "" {
			c.ExpectStatus = DefaultExpectStatus
		}
	case c.Kind == KindDNS:
		if c.DNSName == "" {
			c.DNSName = DefaultDNSName
		}
		if c.DNSType == "" {
			c.DNSType = DefaultDNSType
		}
		if c.DNSTransport == "" {
			c.DNSTransport = DefaultDNSTransport
		}
		if c.ExpectRcode == "" {
			c.ExpectRcode = DefaultExpectRcode
		}
	}
	return c
}

// Validate reports every problem with the check as it would run, that is after WithDefaults,
// joined with errors.Join. Each problem starts with the JSON name of its field, for example
// "timeout: 3s exceeds interval 2s".
func (c Check) Validate() error {
	c = c.WithDefaults()
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	// only reports a field that is set on a kind it does not apply to.
	only := func(field string, set bool, kinds string) {
		if set {
			bad(field, "not used by kind %s (only %s)", c.Kind, kinds)
		}
	}

	switch c.Kind {
	case KindHTTP, KindHTTPS, KindTCP, KindDNS:
	default:
		bad("kind", "unknown kind %q (want http, https, tcp or dns)", c.Kind)
	}
	if c.Port < 0 || c.Port > 65535 {
		bad("port", "%d out of range 1-65535 (0 keeps the target's port)", c.Port)
	}

	if c.Kind.isHTTP() {
		if err := validatePath(c.Path); err != nil {
			bad("path", "%v", err)
		}
		if c.Method != "GET" && c.Method != "HEAD" {
			bad("method", "%q not allowed (want GET or HEAD)", c.Method)
		}
		if c.Host != "" {
			if err := validateHost(c.Host); err != nil {
				bad("host", "%v", err)
			}
		}
		if _, err := parseStatusRanges(c.ExpectStatus); err != nil {
			bad("expect_status", "%v", err)
		}
		if c.ExpectBody != "" && c.Method == "HEAD" {
			bad("expect_body", "a HEAD response has no body")
		}
		if len(c.ExpectBody) > maxBodyBytes {
			bad("expect_body", "%d bytes exceeds the %d bytes of body that are read", len(c.ExpectBody), maxBodyBytes)
		}
	} else {
		kinds := "http, https"
		only("path", c.Path != "", kinds)
		only("method", c.Method != "", kinds)
		only("host", c.Host != "", kinds)
		only("expect_status", c.ExpectStatus != "", kinds)
		only("expect_body", c.ExpectBody != "", kinds)
	}
	if c.Kind != KindHTTPS {
		only("tls_skip_verify", c.TLSSkipVerify, "https")
	}

	if c.Kind == KindDNS {
		if _, ok := dns.IsDomainName(c.DNSName); !ok {
			bad("dns_name", "%q is not a domain name", c.DNSName)
		}
		if _, err := parseDNSType(c.DNSType); err != nil {
			bad("dns_type", "%v", err)
		}
		if c.DNSTransport != "udp" && c.DNSTransport != "tcp" {
			bad("dns_transport", "%q not allowed (want udp or tcp)", c.DNSTransport)
		}
		if _, err := parseRcodes(c.ExpectRcode); err != nil {
			bad("expect_rcode", "%v", err)
		}
	} else {
		only("dns_name", c.DNSName != "", "dns")
		only("dns_type", c.DNSType != "", "dns")
		only("dns_transport", c.DNSTransport != "", "dns")
		only("expect_rcode", c.ExpectRcode != "", "dns")
	}

	interval, timeout := time.Duration(c.Interval), time.Duration(c.Timeout)
	if interval < MinInterval {
		bad("interval", "%v is shorter than the minimum %v", interval, MinInterval)
	}
	switch {
	case timeout <= 0:
		bad("timeout", "%v must be positive", timeout)
	case timeout > interval:
		bad("timeout", "%v exceeds interval %v", timeout, interval)
	}
	if c.Rise < 1 {
		bad("rise", "%d must be at least 1", c.Rise)
	}
	if c.Fall < 1 {
		bad("fall", "%d must be at least 1", c.Fall)
	}
	if c.InitialState != InitialUp && c.InitialState != InitialDown {
		bad("initial_state", "%q not allowed (want up or down)", c.InitialState)
	}
	return errors.Join(errs...)
}

// sameProbe reports whether a and b send the same probe and judge it the same way, so that a
// state learned with one holds for the other. Only scheduling and thresholds may differ.
func sameProbe(a, b Check) bool {
	a.Interval, a.Timeout, a.Rise, a.Fall, a.InitialState = 0, 0, 0, 0, ""
	b.Interval, b.Timeout, b.Rise, b.Fall, b.InitialState = 0, 0, 0, 0, ""
	return a == b
}

func validatePath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("%q must start with /", p)
	}
	if strings.ContainsFunc(p, isSpaceOrControl) {
		return fmt.Errorf("%q contains a space or control character", p)
	}
	if _, err := url.ParseRequestURI(p); err != nil {
		return fmt.Errorf("%q is not a request path: %w", p, err)
	}
	return nil
}

func validateHost(h string) error {
	if strings.ContainsFunc(h, isSpaceOrControl) {
		return fmt.Errorf("%q contains a space or control character", h)
	}
	u, err := url.Parse("//" + h)
	if err != nil || u.Host != h || u.Hostname() == "" {
		return fmt.Errorf("%q is not a host or host:port", h)
	}
	return nil
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

// statusRange is an inclusive range of HTTP status codes.
type statusRange struct{ lo, hi int }

// parseStatusRanges parses a comma-separated list of codes ("200"), ranges ("200-299") and
// classes ("2xx").
func parseStatusRanges(s string) ([]statusRange, error) {
	var out []statusRange
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		var r statusRange
		var err error
		switch lo, hi, isRange := strings.Cut(item, "-"); {
		case isRange:
			if r.lo, err = parseStatus(lo); err == nil {
				r.hi, err = parseStatus(hi)
			}
			if err == nil && r.lo > r.hi {
				err = fmt.Errorf("range %q is empty", item)
			}
		case len(item) == 3 && strings.EqualFold(item[1:], "xx") && item[0] >= '1' && item[0] <= '5':
			r.lo = int(item[0]-'0') * 100
			r.hi = r.lo + 99
		default:
			r.lo, err = parseStatus(item)
			r.hi = r.lo
		}
		if err != nil {
			return nil, fmt.Errorf("%q: %w", s, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func parseStatus(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 100 || n > 599 {
		return 0, fmt.Errorf("%q is not a status code 100-599", s)
	}
	return n, nil
}

func statusOK(ranges []statusRange, code int) bool {
	for _, r := range ranges {
		if code >= r.lo && code <= r.hi {
			return true
		}
	}
	return false
}

func parseDNSType(s string) (uint16, error) {
	t, ok := dns.StringToType[strings.ToUpper(s)]
	switch {
	case !ok:
		return 0, fmt.Errorf("unknown type %q", s)
	case t == dns.TypeAXFR || t == dns.TypeIXFR || t == dns.TypeOPT:
		return 0, fmt.Errorf("type %s cannot be used for a health check", s)
	}
	return t, nil
}

// parseRcodes parses a comma-separated list of rcode names ("NOERROR,NXDOMAIN").
func parseRcodes(s string) (map[int]bool, error) {
	out := make(map[int]bool)
	for item := range strings.SplitSeq(s, ",") {
		item = strings.ToUpper(strings.TrimSpace(item))
		rc, ok := dns.StringToRcode[item]
		if !ok {
			return nil, fmt.Errorf("unknown rcode %q", item)
		}
		out[rc] = true
	}
	return out, nil
}

// Duration is a time.Duration that reads and writes JSON as a string with a unit ("500ms",
// "2s"), like the rest of Meridian's policy. Bare numbers are rejected: 2 could mean seconds or
// nanoseconds, and guessing wrong makes a check that fires a billion times too often.
type Duration time.Duration

// String returns the duration formatted like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON encodes d as a string such as "1.5s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON decodes a string accepted by time.ParseDuration. JSON null leaves d unchanged.
// The errors are *json.UnmarshalTypeError so that encoding/json names the field.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &json.UnmarshalTypeError{
			Value: jsonValue(b) + ` (want a string with a unit, such as "2s")`,
			Type:  reflect.TypeFor[Duration](),
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return &json.UnmarshalTypeError{
			Value: fmt.Sprintf("string %q (want a duration with a unit, such as \"2s\")", s),
			Type:  reflect.TypeFor[Duration](),
		}
	}
	*d = Duration(v)
	return nil
}

// jsonValue describes a JSON value the way encoding/json does in UnmarshalTypeError.Value.
func jsonValue(b []byte) string {
	switch {
	case len(b) == 0:
		return "value"
	case b[0] == '{':
		return "object"
	case b[0] == '[':
		return "array"
	case b[0] == 't' || b[0] == 'f':
		return "bool"
	default:
		return "number " + string(b)
	}
}
