package probes

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func decodeCheck(t *testing.T, s string) Check {
	t.Helper()
	c, err := decodeStrict(s)
	if err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return c
}

// decodeStrict decodes like the policy loader does: unknown fields are errors.
func decodeStrict(s string) (Check, error) {
	var c Check
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	err := dec.Decode(&c)
	return c, err
}

func TestWithDefaults(t *testing.T) {
	common := Check{Interval: Duration(2 * time.Second), Timeout: Duration(time.Second), Rise: 2, Fall: 3, InitialState: "down"}
	with := func(c Check) Check {
		c.Interval, c.Timeout, c.Rise, c.Fall, c.InitialState = common.Interval, common.Timeout, common.Rise, common.Fall, common.InitialState
		return c
	}
	tests := []struct {
		name string
		in   string
		want Check
	}{
		{"empty is http", `{}`, with(Check{Kind: "http", Path: "/healthz", Method: "GET", ExpectStatus: "200-399"})},
		{"https", `{"kind":"https"}`, with(Check{Kind: "https", Path: "/healthz", Method: "GET", ExpectStatus: "200-399"})},
		{"tcp has no http or dns defaults", `{"kind":"tcp"}`, with(Check{Kind: "tcp"})},
		{"dns", `{"kind":"dns"}`, with(Check{Kind: "dns", DNSName: ".", DNSType: "SOA", DNSTransport: "udp", ExpectRcode: "NOERROR"})},
		{"set fields are kept", `{"kind":"tcp","interval":"10s","timeout":"3s","rise":1,"fall":1,"initial_state":"up"}`,
			Check{Kind: "tcp", Interval: Duration(10 * time.Second), Timeout: Duration(3 * time.Second), Rise: 1, Fall: 1, InitialState: "up"}},
		{"short interval shortens the default timeout", `{"kind":"tcp","interval":"500ms"}`,
			Check{Kind: "tcp", Interval: Duration(500 * time.Millisecond), Timeout: Duration(500 * time.Millisecond), Rise: 2, Fall: 3, InitialState: "down"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := decodeCheck(t, tc.in).WithDefaults()
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("WithDefaults(%s) mismatch (-want +got):\n%s", tc.in, diff)
			}
			if again := got.WithDefaults(); again != got {
				t.Errorf("WithDefaults is not idempotent: %+v then %+v", got, again)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate(WithDefaults(%s)) = %v, want nil", tc.in, err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // one line per problem, in order
	}{
		{"zero value", `{}`, nil},
		{"full http", `{"kind":"http","port":8080,"path":"/ready?full=1","method":"HEAD","host":"www.example.com:8080","expect_status":"200-299, 404,5xx"}`, nil},
		{"full https", `{"kind":"https","tls_skip_verify":true,"expect_body":"ok","interval":"100ms","timeout":"100ms"}`, nil},
		{"full dns", `{"kind":"dns","dns_name":"gslb.example","dns_type":"aaaa","dns_transport":"tcp","expect_rcode":"noerror,NXDOMAIN"}`, nil},
		{"unknown kind", `{"kind":"icmp"}`, []string{`kind: unknown kind "icmp" (want http, https, tcp or dns)`}},
		{"port", `{"port":70000}`, []string{`port: 70000 out of range 1-65535 (0 keeps the target's port)`}},
		{"timeout exceeds interval", `{"timeout":"3s"}`, []string{`timeout: 3s exceeds interval 2s`}},
		{"negative timeout", `{"timeout":"-1s"}`, []string{`timeout: -1s must be positive`}},
		{"interval too short", `{"interval":"2ms"}`, []string{`interval: 2ms is shorter than the minimum 100ms`}},
		{"rise and fall", `{"rise":-1,"fall":-2}`, []string{`rise: -1 must be at least 1`, `fall: -2 must be at least 1`}},
		{"initial state", `{"initial_state":"maybe"}`, []string{`initial_state: "maybe" not allowed (want up or down)`}},
		{"path without slash", `{"path":"healthz"}`, []string{`path: "healthz" must start with /`}},
		{"path with space", `{"path":"/a b"}`, []string{`path: "/a b" contains a space or control character`}},
		{"method", `{"method":"POST"}`, []string{`method: "POST" not allowed (want GET or HEAD)`}},
		{"host", `{"host":"a/b"}`, []string{`host: "a/b" is not a host or host:port`}},
		{"expect_status range", `{"expect_status":"299-200"}`, []string{`expect_status: "299-200": range "299-200" is empty`}},
		{"expect_status code", `{"expect_status":"200,99"}`, []string{`expect_status: "200,99": "99" is not a status code 100-599`}},
		{"expect_body with HEAD", `{"method":"HEAD","expect_body":"ok"}`, []string{`expect_body: a HEAD response has no body`}},
		{"tls on http", `{"tls_skip_verify":true}`, []string{`tls_skip_verify: not used by kind http (only https)`}},
		{"http fields on tcp", `{"kind":"tcp","path":"/x","method":"GET","host":"h","expect_status":"200","expect_body":"ok","dns_name":"x."}`, []string{
			`path: not used by kind tcp (only http, https)`,
			`method: not used by kind tcp (only http, https)`,
			`host: not used by kind tcp (only http, https)`,
			`expect_status: not used by kind tcp (only http, https)`,
			`expect_body: not used by kind tcp (only http, https)`,
			`dns_name: not used by kind tcp (only dns)`,
		}},
		{"dns fields on http", `{"dns_type":"A","dns_transport":"udp","expect_rcode":"NOERROR"}`, []string{
			`dns_type: not used by kind http (only dns)`,
			`dns_transport: not used by kind http (only dns)`,
			`expect_rcode: not used by kind http (only dns)`,
		}},
		{"bad dns", `{"kind":"dns","dns_name":"a..b","dns_type":"AXFR","dns_transport":"quic","expect_rcode":"OK"}`, []string{
			`dns_name: "a..b" is not a domain name`,
			`dns_type: type AXFR cannot be used for a health check`,
			`dns_transport: "quic" not allowed (want udp or tcp)`,
			`expect_rcode: unknown rcode "OK"`,
		}},
		{"unknown dns type", `{"kind":"dns","dns_type":"NOPE"}`, []string{`dns_type: unknown type "NOPE"`}},
		{"everything reported", `{"kind":"tcp","interval":"1s","timeout":"2s","rise":-1,"initial_state":"sideways"}`, []string{
			`timeout: 2s exceeds interval 1s`,
			`rise: -1 must be at least 1`,
			`initial_state: "sideways" not allowed (want up or down)`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			if err := decodeCheck(t, tc.in).Validate(); err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Validate(%s) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Check
		wantErr string // substring
	}{
		{name: "durations", in: `{"interval":"1.5s","timeout":"250ms"}`,
			want: Check{Interval: Duration(1500 * time.Millisecond), Timeout: Duration(250 * time.Millisecond)}},
		{name: "null duration", in: `{"interval":null}`, want: Check{}},
		{name: "number rejected with its field", in: `{"interval":2}`,
			wantErr: `json: cannot unmarshal number 2 (want a string with a unit, such as "2s") into Go struct field Check.interval of type probes.Duration`},
		{name: "missing unit", in: `{"timeout":"2"}`,
			wantErr: `json: cannot unmarshal string "2" (want a duration with a unit, such as "2s") into Go struct field Check.timeout of type probes.Duration`},
		{name: "object", in: `{"timeout":{"s":1}}`, wantErr: `cannot unmarshal object (want a string`},
		{name: "typo is an error", in: `{"intervall":"2s"}`, wantErr: `unknown field "intervall"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeStrict(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("decode %s: err = %v, want it to contain %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode %s: %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("decode %s mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	in := Check{Kind: KindDNS, Port: 5353, DNSName: "gslb.example.", DNSType: "A", Interval: Duration(1500 * time.Millisecond), Rise: 1}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"kind":"dns","port":5353,"dns_name":"gslb.example.","dns_type":"A","interval":"1.5s","rise":1}`
	if string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
	if got := decodeCheck(t, string(b)); got != in {
		t.Errorf("decode(Marshal(c)) = %+v, want %+v", got, in)
	}
}

func TestParseStatusRanges(t *testing.T) {
	tests := []struct {
		in      string
		up, dn  []int
		wantErr bool
	}{
		{in: "200-399", up: []int{200, 301, 399}, dn: []int{199, 400, 503}},
		{in: "200", up: []int{200}, dn: []int{201, 204}},
		{in: "200-299,404", up: []int{204, 404}, dn: []int{302, 403}},
		{in: "2xx, 3XX", up: []int{200, 399}, dn: []int{404}},
		{in: "", wantErr: true},
		{in: "6xx", wantErr: true},
		{in: "200-", wantErr: true},
		{in: "abc", wantErr: true},
		{in: "200,,300", wantErr: true},
	}
	for _, tc := range tests {
		ranges, err := parseStatusRanges(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("parseStatusRanges(%q) err = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		for _, code := range tc.up {
			if !statusOK(ranges, code) {
				t.Errorf("parseStatusRanges(%q): status %d is down, want up", tc.in, code)
			}
		}
		for _, code := range tc.dn {
			if statusOK(ranges, code) {
				t.Errorf("parseStatusRanges(%q): status %d is up, want down", tc.in, code)
			}
		}
	}
}

func TestTargetAddr(t *testing.T) {
	tests := []struct {
		target string
		check  Check
		want   string // "" for an error
	}{
		{"192.0.2.1:8080", Check{}, "192.0.2.1:8080"},
		{"192.0.2.1", Check{}, "192.0.2.1:80"},
		{"192.0.2.1", Check{Kind: KindHTTPS}, "192.0.2.1:443"},
		{"192.0.2.1", Check{Kind: KindDNS}, "192.0.2.1:53"},
		{"192.0.2.1:8080", Check{Port: 9090}, "192.0.2.1:9090"},
		{"proxy.eu-west.example:8080", Check{Kind: KindTCP}, "proxy.eu-west.example:8080"},
		{"[2001:db8::1]:8443", Check{Kind: KindHTTPS}, "[2001:db8::1]:8443"},
		{"2001:db8::1", Check{}, "[2001:db8::1]:80"},
		{"[2001:db8::1]", Check{Kind: KindDNS}, "[2001:db8::1]:53"},
		{"192.0.2.1", Check{Kind: KindTCP}, ""},
		{"192.0.2.1:http", Check{}, ""},
		{":80", Check{}, ""},
		{"a:b:c", Check{}, ""},
		{"", Check{}, ""},
	}
	for _, tc := range tests {
		got, err := targetAddr(tc.target, tc.check)
		if tc.want == "" {
			if err == nil {
				t.Errorf("targetAddr(%q, %s) = %q, want an error", tc.target, tc.check.Kind, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("targetAddr(%q, %s) = %q, %v, want %q", tc.target, tc.check.Kind, got, err, tc.want)
		}
	}
}

// FuzzCheckJSON checks that whatever decodes re-encodes to the same value, and that Validate
// and NewChecker never panic.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"kind":"https","host":"a:1","expect_status":"2xx,404","tls_skip_verify":true}`,
		`{"kind":"dns","dns_name":"x.","dns_type":"TXT","expect_rcode":"NXDOMAIN"}`,
		`{"kind":"tcp","port":1,"interval":"1m","timeout":"1ns","rise":1,"fall":9}`,
		`{"interval":"-0s"}`, `{"expect_status":"600-100"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Check
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if dec.Decode(&c) != nil {
			return
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", c, err)
		}
		var again Check
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("Unmarshal(%s): %v", out, err)
		}
		if again != c {
			t.Fatalf("round trip: %+v became %+v via %s", c, again, out)
		}
		if err := c.Validate(); err == nil {
			if _, err := NewChecker(c, CheckerOptions{}); err != nil {
				t.Fatalf("Validate(%s) = nil but NewChecker failed: %v", b, err)
			}
		}
	})
}
