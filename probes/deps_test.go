package probes

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps etcd, gRPC and the rest of Meridian out of probes: both the prober and the
// proxy import it, and it must not drag their dependencies into each other.
func TestDeps(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const self = "github.com/meridian-gslb/meridian/probes"
	for pkg := range strings.FieldsSeq(string(out)) {
		switch {
		case pkg == self:
		case strings.HasPrefix(pkg, "github.com/meridian-gslb/meridian/"),
			strings.HasPrefix(pkg, "go.etcd.io/"),
			strings.HasPrefix(pkg, "google.golang.org/grpc"),
			strings.HasPrefix(pkg, "go.uber.org/zap"),
			strings.HasPrefix(pkg, "github.com/sirupsen/logrus"):
			t.Errorf("probes depends on %s; it may use only the standard library, miekg/dns and the Prometheus client", pkg)
		}
	}
}
