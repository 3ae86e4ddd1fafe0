// Package etcdtest gives tests a real etcd: an embedded single member on
// loopback in t.TempDir (package embedetcd), stopped by t.Cleanup, or, when
// MERIDIAN_TEST_ETCD_ENDPOINTS is set (comma-separated client URLs), an
// external etcd such as Debian's etcd-server, to check wire compatibility.
//
// Tests keep under their own Prefix(t), so that they can share an etcd:
// the package-wide one from Shared (started once, about half a second
// saved per test), or the external one. Tests that stop or restart etcd
// use their own from New and call RequireEmbedded, which skips them
// against an external etcd.
//
//	func TestMain(m *testing.M) { goleak.VerifyTestMain(etcdtest.M(m)) }
//
//	func TestX(t *testing.T) {
//		srv := etcdtest.Shared(t)
//		cli := etcdtest.Client(t, srv)
//		prefix := etcdtest.Prefix(t)
//		...
//	}
package etcdtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"sync"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/meridian-gslb/meridian/gslb/store/embedetcd"
)

// EnvEndpoints names the environment variable that points the tests at an
// external etcd.
const EnvEndpoints = "MERIDIAN_TEST_ETCD_ENDPOINTS"

// external returns the etcd named by EnvEndpoints, or nil.
func external() *embedetcd.Server {
	eps := os.Getenv(EnvEndpoints)
	var list []string
	for e := range strings.SplitSeq(eps, ",") {
		if e = strings.TrimSpace(e); e != "" {
			list = append(list, e)
		}
	}
	if len(list) == 0 {
		return nil
	}
	return embedetcd.Attach(list)
}

// New returns a running etcd of the test's own: embedded (stopped when the
// test ends) or, with EnvEndpoints set, the external one.
func New(t testing.TB) *embedetcd.Server {
	t.Helper()
	if srv := external(); srv != nil {
		return srv
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

var shared struct {
	once sync.Once
	mu   sync.Mutex
	srv  *embedetcd.Server
	dir  string
	err  error
}

// Shared returns the etcd shared by the package's tests, started on first
// use (or, with EnvEndpoints set, the external one). Tests must not stop
// it; M stops it when the package's tests are done. Each test keeps under
// its own Prefix.
func Shared(t testing.TB) *embedetcd.Server {
	t.Helper()
	if srv := external(); srv != nil {
		return srv
	}
	shared.once.Do(func() {
		shared.mu.Lock()
		defer shared.mu.Unlock()
		shared.dir, shared.err = os.MkdirTemp("", "etcdtest-")
		if shared.err != nil {
			return
		}
		shared.srv, shared.err = embedetcd.Start(context.Background(), embedetcd.Config{Dir: shared.dir, NoFsync: true})
	})
	if shared.err != nil {
		t.Fatalf("etcdtest: shared etcd: %v", shared.err)
	}
	return shared.srv
}

// M wraps m for TestMain so that the shared etcd stops (and its directory
// goes) once the tests have run, before goleak looks for leftovers:
//
//	func TestMain(m *testing.M) { goleak.VerifyTestMain(etcdtest.M(m)) }
//
// Without goleak: os.Exit(etcdtest.M(m).Run()).
func M(m *testing.M) interface{ Run() int } {
	return runFunc(func() int { defer stopShared(); return m.Run() })
}

type runFunc func() int

func (f runFunc) Run() int { return f() }

func stopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil {
		shared.srv.Stop()
		shared.srv = nil
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
		shared.dir = ""
	}
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
