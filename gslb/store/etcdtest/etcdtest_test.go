package etcdtest

import (
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/meridian-gslb/meridian/gslb/store/embedetcd"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(M(m))
}

func TestNewClientPrefix(t *testing.T) {
	srv := New(t)
	cli := Client(t, srv)
	p := Prefix(t)
	if !strings.HasPrefix(p, "/meridian-test/TestNewClientPrefix-") || !strings.HasSuffix(p, "/") {
		t.Errorf("Prefix() = %q, want /meridian-test/TestNewClientPrefix-<random>/", p)
	}
	if q := Prefix(t); q == p {
		t.Errorf("two Prefix() calls gave the same %q", p)
	}
	if _, err := cli.Put(t.Context(), p+"k", "v"); err != nil {
		t.Fatalf("Put: %v", err)
	}
	resp, err := cli.Get(t.Context(), p+"k")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
		t.Errorf("Get = %v, %v; want v", resp, err)
	}
}

func TestRequireEmbedded(t *testing.T) {
	var reached bool
	t.Run("external", func(t *testing.T) {
		RequireEmbedded(t, embedetcd.Attach([]string{"http://127.0.0.1:1"}))
		reached = true
	})
	if reached {
		t.Errorf("RequireEmbedded did not skip for an external etcd")
	}
}

func TestShared(t *testing.T) {
	a, b := Shared(t), Shared(t)
	if a != b {
		t.Errorf("Shared() returned two servers")
	}
	cli := Client(t, a)
	if _, err := cli.Put(t.Context(), Prefix(t)+"k", "v"); err != nil {
		t.Fatalf("Put: %v", err)
	}
}
