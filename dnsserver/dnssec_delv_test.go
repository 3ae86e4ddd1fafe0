package dnsserver

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDelvValidates runs BIND's validator (delv, from bind9-dnsutils)
// against a signed server on loopback, with the zone's key as the only
// trust anchor: answers, black lies, NODATA, wildcards, CNAMEs, the
// nested zones (signed child through the DS its parent serves, unsigned
// child through the NSEC that proves no DS) must all validate.
func TestDelvValidates(t *testing.T) {
	delv, err := exec.LookPath("delv")
	if err != nil {
		t.Fatal("delv not found (package bind9-dnsutils): run make deps")
	}
	ss := newSignedServer(t, nestedKeys(), "gslb.example.", "sub.gslb.example.")
	addr := ss.serve(t)
	host, port, _ := net.SplitHostPort(addr)

	anchors := writeAnchors(t, ss.keys["gslb.example."])
	run := func(t *testing.T, anchors, name, qtype string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, delv, "@"+host, "-p", port, "-a", anchors, "+root=gslb.example.", name, qtype).CombinedOutput()
		if err != nil {
			t.Fatalf("delv %s %s: %v\n%s", name, qtype, err, out)
		}
		return string(out)
	}
	// The test can fail: with another key as the anchor nothing validates.
	other, err := GenerateKey("gslb.example.")
	if err != nil {
		t.Fatal(err)
	}
	if out := run(t, writeAnchors(t, other), "www.gslb.example", "A"); strings.Contains(out, "fully validated") || !strings.Contains(out, "resolution failed") {
		t.Fatalf("delv with a wrong trust anchor:\n%s", out)
	}
	for _, tc := range []struct {
		name, qtype string
		want        string // a line of delv's output
	}{
		{"www.gslb.example", "A", "; fully validated"},
		{"www.gslb.example", "AAAA", "; fully validated"},
		{"nope.gslb.example", "A", "; negative response, fully validated"},
		{"deeper.www.gslb.example", "TXT", "; negative response, fully validated"},
		{"www.gslb.example", "MX", "; negative response, fully validated"},
		{"v4only.gslb.example", "AAAA", "; negative response, fully validated"},
		{"b.gslb.example", "A", "; negative response, fully validated"},
		{"gslb.example", "DNSKEY", "; fully validated"},
		{"gslb.example", "NS", "; fully validated"},
		{"gslb.example", "ANY", "; fully validated"},
		{"alias.gslb.example", "A", "; fully validated"},
		{"gone.gslb.example", "A", "; fully validated"}, // the CNAME; delv then says "resolution failed: ncache nxrrset" for its target, and shows the proof
		{"foo.wild.gslb.example", "A", "; fully validated"},
		{"foo.wild.gslb.example", "MX", "; negative response, fully validated"},
		{"*.wild.gslb.example", "A", "; fully validated"},
		{"*00.gslb.example", "A", "; negative response, fully validated"},
		{"big.gslb.example", "TXT", "; fully validated"}, // truncated over UDP, retried over TCP
		{"host.sub.gslb.example", "A", "; fully validated"},
		{"nope.sub.gslb.example", "A", "; negative response, fully validated"},
		{"host.plain.gslb.example", "A", "; unsigned answer"},
	} {
		t.Run(tc.name+"/"+tc.qtype, func(t *testing.T) {
			out := run(t, anchors, tc.name, tc.qtype)
			found := false
			for l := range strings.SplitSeq(out, "\n") {
				if strings.TrimSpace(l) == tc.want {
					found = true
				}
			}
			if !found {
				t.Errorf("delv %s %s: no %q in:\n%s", tc.name, tc.qtype, tc.want, out)
			}
		})
	}
}

// writeAnchors writes k as a delv trust anchor file (named.conf syntax).
func writeAnchors(t *testing.T, k *Key) string {
	t.Helper()
	dk := k.DNSKEY
	path := filepath.Join(t.TempDir(), "anchors.conf")
	conf := fmt.Sprintf("trust-anchors {\n\t%s static-key %d %d %d %q;\n};\n", dk.Hdr.Name, dk.Flags, dk.Protocol, dk.Algorithm, dk.PublicKey)
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
