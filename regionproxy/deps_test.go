package regionproxy

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps etcd out of the proxy: the command wires the store in
// through functions, so the request path cannot reach etcd even by
// accident.
func TestDeps(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for pkg := range strings.FieldsSeq(string(out)) {
		switch {
		case strings.HasPrefix(pkg, "go.etcd.io/"),
			strings.HasPrefix(pkg, "google.golang.org/grpc"),
			strings.HasPrefix(pkg, "github.com/meridian-gslb/meridian/gslb/store"),
			strings.HasPrefix(pkg, "github.com/meridian-gslb/meridian/cmd"),
			strings.HasPrefix(pkg, "github.com/meridian-gslb/meridian/dnsserver"):
			t.Errorf("regionproxy depends on %s; it may use gslb, probes, the standard library and the Prometheus client", pkg)
		}
	}
}
