package gslb

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestSchemaFiles keeps docs/schema/*.json equal to what the model says;
// `go test ./gslb -run TestSchemaFiles -update` rewrites them.
func TestSchemaFiles(t *testing.T) {
	for _, k := range []Kind{KindZone, KindRegion, KindService, KindPool, KindNetwork} {
		got, err := json.MarshalIndent(Schema(k), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, '\n')
		path := filepath.Join("..", "docs", "schema", k.String()+".json")
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./gslb -run TestSchemaFiles -update)", err)
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("%s is stale (-file +model); run go test ./gslb -run TestSchemaFiles -update:\n%s", path, diff)
		}
	}
}

// TestSchemaRefusesUnknownFields: the schema says what the decoder does.
func TestSchemaRefusesUnknownFields(t *testing.T) {
	s := Schema(KindService)
	if s["additionalProperties"] != false {
		t.Errorf("service schema allows unknown fields")
	}
	props := s["properties"].(map[string]any)
	pol := props["policy"].(map[string]any)
	if diff := cmp.Diff([]string{"geo", "failover"}, pol["enum"]); diff != "" {
		t.Errorf("policy enum (-want +got):\n%s", diff)
	}
	if _, ok := props["fallback"]; !ok {
		t.Errorf("service schema lacks fallback")
	}
}
