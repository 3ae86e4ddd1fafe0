package main

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meridian-gslb/meridian/dnsserver"
)

func TestProtectionFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want dnsserver.Options
		err  string
	}{
		{
			name: "defaults",
			want: dnsserver.Options{
				RRL:      dnsserver.RRLOptions{Rate: 20, Slip: 2, Window: 15 * time.Second},
				TCP:      dnsserver.TCPOptions{MaxConns: 1000, IdleTimeout: 10 * time.Second, MaxQueries: 128},
				QueryLog: dnsserver.QueryLogOptions{Rate: 100},
				Workers:  1,
			},
		},
		{
			name: "everything set",
			args: []string{"--rrl-rate", "5", "--rrl-slip", "0", "--rrl-window", "1m", "--rrl-exempt", "192.0.2.0/24, 2001:db8::1",
				"--tcp-max-conns", "-1", "--tcp-idle-timeout", "3s", "--tcp-max-queries", "-1", "--udp-workers", "2",
				"--query-log-sample", "0.01", "--query-log-rate", "10"},
			want: dnsserver.Options{
				RRL: dnsserver.RRLOptions{Rate: 5, Slip: dnsserver.NoSlip, Window: time.Minute,
					Exempt: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::1/128")}},
				TCP:      dnsserver.TCPOptions{MaxConns: -1, IdleTimeout: 3 * time.Second, MaxQueries: -1},
				QueryLog: dnsserver.QueryLogOptions{Sample: 0.01, Rate: 10},
				Workers:  2,
			},
		},
		{
			name: "rate 0 turns RRL off",
			args: []string{"--rrl-rate", "0"},
			want: dnsserver.Options{
				RRL:      dnsserver.RRLOptions{Disabled: true},
				TCP:      dnsserver.TCPOptions{MaxConns: 1000, IdleTimeout: 10 * time.Second, MaxQueries: 128},
				QueryLog: dnsserver.QueryLogOptions{Rate: 100},
				Workers:  1,
			},
		},
		{
			name: "environment twins",
			env:  map[string]string{"MERIDIAN_RRL_EXEMPT": "198.51.100.0/24", "MERIDIAN_RRL_SLIP": "1"},
			want: dnsserver.Options{
				RRL:      dnsserver.RRLOptions{Rate: 20, Slip: 1, Window: 15 * time.Second, Exempt: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}},
				TCP:      dnsserver.TCPOptions{MaxConns: 1000, IdleTimeout: 10 * time.Second, MaxQueries: 128},
				QueryLog: dnsserver.QueryLogOptions{Rate: 100},
				Workers:  1,
			},
		},
		{name: "bad exempt", args: []string{"--rrl-exempt", "192.0.2.0/33"}, err: "--rrl-exempt"},
		{name: "negative rate", args: []string{"--rrl-rate", "-1"}, err: "--rrl-rate"},
		{name: "negative slip", args: []string{"--rrl-slip", "-1"}, err: "--rrl-slip"},
		{name: "zero window", args: []string{"--rrl-window", "0s"}, err: "--rrl-window"},
		{name: "zero conns", args: []string{"--tcp-max-conns", "0"}, err: "--tcp-max-conns"},
		{name: "zero idle", args: []string{"--tcp-idle-timeout", "0s"}, err: "--tcp-idle-timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			fs := newFlagSet("dns", &bytes.Buffer{})
			var pf protectionFlags
			pf.register(fs)
			if _, err := parse(fs, tc.args); err != nil {
				t.Fatal(err)
			}
			got, err := pf.options()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("options() = %v, want an error about %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("options mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
