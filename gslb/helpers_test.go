package gslb

import (
	"net/netip"
	"testing"
)

// demo is the dev-mode keyspace in miniature: one zone, three regions on
// three continents, the documentation ranges as operator networks.
var demo = map[string]string{
	"zones/gslb.example.":        `{"nameservers":[{"name":"ns1.gslb.example.","ipv4":["192.0.2.53"]}]}`,
	"regions/eu-west":            `{"location":{"lat":53.35,"lon":-6.26},"country":"IE","proxies":["127.0.0.11","2001:db8::11"]}`,
	"regions/us-east":            `{"location":{"lat":38.9,"lon":-77.0},"country":"US","proxies":["127.0.0.12"]}`,
	"regions/ap-southeast":       `{"location":{"lat":1.29,"lon":103.85},"country":"SG","proxies":["127.0.0.13","127.0.0.23"]}`,
	"geo/networks/doc-eu":        `{"cidrs":["192.0.2.0/24"],"country":"IE"}`,
	"geo/networks/doc-na":        `{"cidrs":["198.51.100.0/24"],"country":"US"}`,
	"geo/networks/doc-as":        `{"cidrs":["203.0.113.0/24"],"country":"SG"}`,
	"services/www.gslb.example.": `{"policy":"geo","regions":["eu-west","us-east","ap-southeast"],"ttl":"20s"}`,
}

// build decodes every value and builds a snapshot; extra values replace or
// add to base, and an empty value deletes the key.
func build(t testing.TB, base map[string]string, extra map[string]string) *Snapshot {
	t.Helper()
	entries := map[string]Entry{}
	add := func(k, v string) {
		if v == "" {
			delete(entries, k)
			return
		}
		e, err := Decode(k, []byte(v), Validators{})
		if err != nil {
			t.Fatalf("Decode(%s): %v", k, err)
		}
		entries[e.Key.String()] = e
	}
	for k, v := range base {
		add(k, v)
	}
	for k, v := range extra {
		add(k, v)
	}
	return Build(entries, 42)
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }
