package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridian-gslb/meridian/deploy/demo"
)

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(t.Context(), args, &out, &out)
	return out.String(), err
}

func TestPolicyValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	if err := os.WriteFile(good, demo.Policy, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "policy", "validate", good)
	if err != nil || !strings.Contains(out, "key(s) valid") {
		t.Fatalf("validate demo policy: %v\n%s", err, out)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{
		"regions/eu-west": {"location": {"lat": 1, "lon": 1}, "proxies": ["192.0.2.1"]},
		"services/www.gslb.example": {"policy": "geo", "regions": ["eu-west", "nowhere"], "fallbak": "all"},
		"services/api.gslb.example": {"policy": "geo", "regions": ["nowhere"]},
		"regions/us-east": {"location": {"lat": 100, "lon": 1}, "proxies": ["192.0.2.2"]},
		"zones/gslb.example": {"nameservers": [{"name": "ns1.gslb.example", "ipv4": ["192.0.2.53"]}], "records": ["@ 60 IN SOA a. b. 1 2 3 4 5"]}
	}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = runCLI(t, "policy", "validate", bad)
	if err == nil {
		t.Fatalf("validate bad policy succeeded:\n%s", out)
	}
	for _, want := range []string{
		`services/www.gslb.example.: unknown field "fallbak"`,
		"services/api.gslb.example.: regions[0]: region nowhere does not exist",
		"regions/us-east: location.lat: 100 out of range",
		"zones/gslb.example.: records[0]:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
}

func TestUsage(t *testing.T) {
	if _, err := runCLI(t); !errors.Is(err, errUsage) {
		t.Errorf("no arguments: err = %v, want usage", err)
	}
	out, err := runCLI(t, "frobnicate")
	if !errors.Is(err, errUsage) || !strings.Contains(out, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: err = %v, out %q", err, out)
	}
	out, err = runCLI(t, "version")
	if err != nil || !strings.HasPrefix(out, "meridian ") {
		t.Errorf("version: %v %q", err, out)
	}
	if _, err := runCLI(t, "proxy", "--region", "eu-west"); err == nil {
		t.Errorf("proxy without --advertise succeeded")
	}
}

func TestEnvTwins(t *testing.T) {
	t.Setenv("MERIDIAN_ETCD_PREFIX", "/other/")
	fs := newFlagSet("x", &bytes.Buffer{})
	var ef etcdFlags
	ef.register(fs)
	if _, err := parse(fs, nil); err != nil {
		t.Fatal(err)
	}
	if ef.prefix != "/other/" {
		t.Errorf("prefix from MERIDIAN_ETCD_PREFIX = %q, want /other/", ef.prefix)
	}
	fs = newFlagSet("x", &bytes.Buffer{})
	ef = etcdFlags{}
	ef.register(fs)
	if _, err := parse(fs, []string{"--etcd-prefix", "/flag/"}); err != nil {
		t.Fatal(err)
	}
	if ef.prefix != "/flag/" {
		t.Errorf("flag beats env: prefix = %q, want /flag/", ef.prefix)
	}
}
