package gslb

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps the decision core free of I/O: gslb may not reach etcd,
// the DNS library, HTTP or a socket package (STYLE.md: decisions are pure
// functions; only the store imports etcd).
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	forbidden := []string{
		"go.etcd.io/",
		"github.com/miekg/dns",
		"net/http",
		"github.com/prometheus/",
		"log/slog",
		"google.golang.org/grpc",
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("gslb depends on %s; the decision core must not import %s", dep, f)
			}
		}
	}
}
