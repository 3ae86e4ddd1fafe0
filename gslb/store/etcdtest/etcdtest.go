// Package etcdtest gives tests a real etcd: an embedded single member on
// loopback in t.TempDir (package embedetcd), stopped by t.Cleanup, or, when
// MERIDIAN_TEST_ETCD_ENDPOINTS is set (comma-separated client URLs), an
// external etcd such as Debian's etcd-server, to check wire compatibility.
//
// Against an external etcd every test shares one keyspace, so tests must
// keep under their own Prefix(t) — a good habit anyway — and tests that
// stop or restart etcd call RequireEmbedded, which skips them.
//
//	srv := etcdtest.New(t)
//	cli := etcdtest.Client(t, srv)
//	prefix := etcdtest.Prefix(t)
package etcdtest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/meridian-gslb/meridian/gslb/store/embedetcd"
)

// EnvEndpoints names the environment variable that points the tests at an
// external etcd.
const EnvEndpoints = "MERIDIAN_TEST_ETCD_ENDPOINTS"

// New returns a running etcd for the test: embedded (stopped when the test
// ends) or, with EnvEndpoints set, the external one.
func New(t testing.TB) *embedetcd.Server {
	t.Helper()
	if eps := os.Getenv(EnvEndpoints); eps != "" {
		var list []string
		for e := range strings.SplitSeq(eps, ",") {
			if e = strings.TrimSpace(e); e != "" {
				list = append(list, e)
			}
		}
		return embedetcd.Attach(list)
	}
	// NoFsync: a test's data dies with the test; fsync would only make
	// every put wait for the disk.
	srv, err := embedetcd.Start(t.Context(), embedetcd.Config{Dir: t.TempDir(), NoFsync: true})
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// Client returns a new client of srv, closed when the test ends.
func Client(t testing.TB, srv *embedetcd.Server) *clientv3.Client {
	t.Helper()
	c, err := srv.Client()
	if err != nil {
		t.Fatalf("etcdtest: client: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Prefix returns a keyspace prefix of the test's own ("/meridian-test/
// <test name>-<random>/"), so tests can share an etcd.
func Prefix(t testing.TB) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, t.Name())
	return "/meridian-test/" + name + "-" + hex.EncodeToString(b[:]) + "/"
}

// RequireEmbedded skips the test when srv is an external etcd, which the
// test cannot stop or restart.
func RequireEmbedded(t testing.TB, srv *embedetcd.Server) {
	t.Helper()
	if srv.External() {
		t.Skipf("etcdtest: this test stops and restarts etcd, which it cannot do to the external etcd at %s=%s",
			EnvEndpoints, strings.Join(srv.Endpoints(), ","))
	}
}
