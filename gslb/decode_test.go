package gslb

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		key, value string
		want       []string // substrings of the error, in order of appearance
	}{
		{"services/www.gslb.example", `{"policy":"geo","regions":["eu-west"],"fallbak":"all"}`,
			[]string{"services/www.gslb.example.: ", `unknown field "fallbak"`}},
		{"services/www.gslb.example", `{"policy":"geo","regions":["eu-west"],"ttl":30}`,
			[]string{"services/www.gslb.example.: ttl: ", `duration must be a string`}},
		{"services/www.gslb.example", `{"policy":"geo","regions":"eu-west"}`,
			[]string{"services/www.gslb.example.: regions: want []string"}},
		{"services/www.gslb.example", `{"policy":"nearest","regions":["eu-west","eu-west"],"ttl":"2h","answers":9,"fallback":"x"}`,
			[]string{`policy: "nearest" is not a policy`, "regions[1]: duplicate region eu-west", "ttl: 2h0m0s out of range", "answers: 9 out of range", `fallback: "x" is not a fallback`}},
		{"services/www.gslb.example", `{"policy":"geo","regions":["eu-west"],"ttl":"1500ms"}`,
			[]string{"ttl: 1.5s: DNS TTLs are whole seconds"}},
		{"services/www.gslb.example", `{"policy":"geo","regions":["eu-west"],"overrides":[{"countries":["XX"],"continents":["EU","ZZ"],"regions":[]}]}`,
			[]string{`overrides[0].countries[0]: "XX" is not`, `overrides[0].continents[1]: "ZZ" is not`, "overrides[0].regions: at least one region"}},
		{"services/www.gslb.example", `{"policy":"geo","regions":["eu-west"]} {}`,
			[]string{"trailing data"}},
		{"services/www.gslb.example", `{"policy":"geo",`, []string{"unexpected EOF"}},
		{"services/www.gslb.example", ``, []string{"empty value"}},
		{"services/bad_host!.example", `{}`, []string{"bad key", `has '!'`}},
		{"regions/EU_West", `{}`, []string{"bad key", "region name"}},
		{"regions/eu-west", `{"location":{"lat":91,"lon":-181},"country":"Ireland","proxies":["127.0.0.1","127.0.0.1","224.0.0.1"]}`,
			[]string{"location.lat: 91 out of range", "location.lon: -181 out of range", `country: "Ireland"`, "proxies[1]: duplicate address", "proxies[2]: 224.0.0.1 is not a unicast"}},
		{"regions/eu-west", `{"location":{"lat":1,"lon":1},"proxies":["300.1.1.1"]}`, []string{"regions/eu-west: ", "ParseAddr"}},
		{"regions/eu-west", `{"location":{"lat":1,"lon":1},"proxies":[]}`, []string{"proxies: at least one proxy"}},
		{"zones/gslb.example", `{"nameservers":[{"name":"ns1.gslb.example."}],"soa":{"minimum":"5h"}}`,
			[]string{"nameservers[0]: ns1.gslb.example. is inside the zone, so it needs", "soa.minimum: 5h0m0s out of range"}},
		{"zones/gslb.example", `{"nameservers":[]}`, []string{"nameservers: at least one"}},
		{"zones/gslb.example", `{"nameservers":[{"name":"ns.other.example.","ipv4":["2001:db8::1"]}]}`, []string{"nameservers[0].ipv4[0]: 2001:db8::1 is not an IPv4"}},
		{"geo/networks/corp", `{"cidrs":["10.1.2.3/8"]}`, []string{"cidrs[0]: 10.1.2.3/8 has host bits set (did you mean 10.0.0.0/8?)", "location: a network needs"}},
		{"pools/eu-west/web", `{"hosts":[],"backends":[{"address":"nohost"},{"address":"127.0.0.1:0","weight":-1}],"balancer":"fastest","retries":11,"spillover":["eu-west"]}`,
			[]string{"hosts: at least one", `backends[0].address: "nohost": want host:port`, "backends[1].address", "backends[1].weight: -1", `balancer: "fastest"`, "retries: 11", "spillover[0]: eu-west is the pool's own region"}},
		{"status/proxies/eu-west/px1", `{"address":"127.0.0.1","healthy_backends":3,"total_backends":2,"updated":"2026-01-01T00:00:00Z"}`, []string{"healthy_backends: 3 of 2"}},
		{"status/probes/p1/not-an-ip", `{"up":true}`, []string{"bad key"}},
		{"nonsense/x", `{}`, []string{`unknown directory "nonsense"`}},
	}
	for _, tc := range tests {
		t.Run(tc.key+" "+tc.value, func(t *testing.T) {
			_, err := Decode(tc.key, []byte(tc.value), Validators{})
			if err == nil {
				t.Fatalf("Decode(%s, %s) = nil error, want %q", tc.key, tc.value, tc.want)
			}
			var ke *KeyError
			if !errors.As(err, &ke) {
				t.Errorf("Decode error %T is not a *KeyError", err)
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("Decode(%s) error\n%s\nlacks %q", tc.key, msg, w)
				}
			}
		})
	}
}

func TestDecodeDefaults(t *testing.T) {
	e, err := Decode("services/WWW.gslb.example", []byte(`{"policy":"geo","regions":["eu-west"]}`), Validators{})
	if err != nil {
		t.Fatal(err)
	}
	if e.Key.String() != "services/www.gslb.example." {
		t.Errorf("key = %s, want canonical services/www.gslb.example.", e.Key)
	}
	s := e.Value.(*Service)
	if s.TTL.D() != DefaultServiceTTL || s.Answers != DefaultAnswers || s.Fallback != FallbackAll || s.Name != "www.gslb.example." {
		t.Errorf("defaults not applied: %+v", s)
	}
	z, err := Decode("zones/gslb.example", []byte(`{"nameservers":[{"name":"NS1.gslb.example","ipv4":["192.0.2.1"]}]}`), Validators{})
	if err != nil {
		t.Fatal(err)
	}
	zone := z.Value.(*Zone)
	if zone.SOA.MName != "ns1.gslb.example." || zone.SOA.RName != "hostmaster.gslb.example." || zone.SOA.Minimum.D() != DefaultSOAMinimum {
		t.Errorf("zone defaults not applied: %+v", zone.SOA)
	}
}

func TestValidatorsCalled(t *testing.T) {
	v := Validators{
		Record: func(origin, text string) error {
			if strings.Contains(text, "bad") {
				return errors.New("cannot parse")
			}
			return nil
		},
		Check: func(raw json.RawMessage) error { return errors.New("check says no") },
	}
	_, err := Decode("zones/gslb.example", []byte(`{"nameservers":[{"name":"ns.x.example."}],"records":["ok 60 TXT \"a\"","bad"]}`), v)
	if err == nil || !strings.Contains(err.Error(), "records[1]: cannot parse") {
		t.Errorf("zone with a bad record: err = %v, want records[1]: cannot parse", err)
	}
	_, err = Decode("regions/eu-west", []byte(`{"location":{"lat":1,"lon":1},"proxies":["192.0.2.1"],"check":{"kind":"tcp"}}`), v)
	if err == nil || !strings.Contains(err.Error(), "check: check says no") {
		t.Errorf("region with a bad check: err = %v, want check: check says no", err)
	}
}

func TestBuildProblems(t *testing.T) {
	s := build(t, demo, map[string]string{
		"services/www.gslb.example.":  `{"policy":"geo","regions":["eu-west","mars"],"overrides":[{"networks":["nope"],"regions":["venus"]}]}`,
		"services/www.other.example.": `{"policy":"failover","regions":["eu-west"]}`,
		"pools/pluto/web":             `{"hosts":["*"],"backends":[{"address":"127.0.0.1:1"}]}`,
	})
	var got []string
	for _, p := range s.Problems() {
		got = append(got, p.Error())
	}
	want := []string{
		"services/www.gslb.example.: regions[1]: region mars does not exist",
		"services/www.gslb.example.: overrides[0].regions[0]: region venus does not exist",
		"services/www.gslb.example.: overrides[0].networks[0]: network nope does not exist in geo/networks/",
		"services/www.other.example.: www.other.example. is not inside any zone in zones/",
		"pools/pluto/web: region pluto does not exist",
	}
	for _, w := range want {
		if !slicesContains(got, w) {
			t.Errorf("Problems() lacks %q; got:\n%s", w, strings.Join(got, "\n"))
		}
	}
	if len(got) != len(want) {
		t.Errorf("Problems() has %d entries, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	if !s.HasProblem("services/www.gslb.example.") || s.HasProblem("regions/eu-west") {
		t.Errorf("HasProblem wrong")
	}
	// The service still answers from the regions that exist.
	d, err := Steer(s, Query{Name: "www.gslb.example.", Client: addr("203.0.113.1"), SourceBits: -1})
	if err != nil || d.Region != "eu-west" {
		t.Errorf("Steer with a dangling region = %q, %v; want eu-west", d.Region, err)
	}
}

func slicesContains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// FuzzDecode: no input crashes the decoder, and whatever it accepts
// re-encodes to JSON that decodes to the same value (so what
// `meridian policy get` prints is what the servers run).
func FuzzDecode(f *testing.F) {
	for k, v := range demo {
		f.Add(k, []byte(v))
	}
	f.Add("pools/eu-west/web", []byte(`{"hosts":["www.gslb.example"],"backends":[{"address":"127.0.0.1:9001","weight":2}],"retries":1,"spillover":["us-east"]}`))
	f.Add("status/proxies/eu-west/px1", []byte(`{"address":"127.0.0.11","healthy_backends":1,"total_backends":2,"updated":"2026-01-01T00:00:00Z"}`))
	f.Add("status/probes/p1/127.0.0.11", []byte(`{"up":false,"rtt":"3ms","detail":"status 503","updated":"2026-01-01T00:00:00Z"}`))
	f.Add("services/x.gslb.example", []byte(`{"policy":"failover","regions":["a"],"overrides":[{"countries":["de"],"regions":["b"]}],"ttl":"1m"}`))
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		e, err := Decode(key, value, Validators{})
		if err != nil {
			var ke *KeyError
			if !errors.As(err, &ke) {
				t.Fatalf("Decode error %T is not a *KeyError: %v", err, err)
			}
			return
		}
		out, err := json.Marshal(e.Value)
		if err != nil {
			t.Fatalf("accepted value does not re-encode: %v", err)
		}
		e2, err := Decode(e.Key.String(), out, Validators{})
		if err != nil {
			t.Fatalf("re-encoded value %s rejected: %v", out, err)
		}
		if !reflect.DeepEqual(e.Value, e2.Value) {
			out2, _ := json.Marshal(e2.Value)
			if !bytes.Equal(out, out2) {
				t.Fatalf("round trip changed the value:\n%s\n%s", out, out2)
			}
		}
	})
}
