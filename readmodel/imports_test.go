package readmodel_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsNoIngestPipeline checks that the read model, and the
// dashboard API reading through it, build without the ingest pipeline:
// neither depends on the projector, and the read model not on Kafka.
func TestImportsNoIngestPipeline(t *testing.T) {
	deps := func(pkg string) []string {
		t.Helper()
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		return strings.Fields(string(out))
	}
	for _, d := range deps("github.com/incidentd/incidentd/readmodel") {
		if strings.HasSuffix(d, "/projector") || strings.HasPrefix(d, "github.com/twmb/franz-go") {
			t.Errorf("readmodel depends on %s", d)
		}
	}
	for _, d := range deps("github.com/incidentd/incidentd/ingress") {
		if d == "github.com/incidentd/incidentd/projector" {
			t.Errorf("ingress depends on %s", d)
		}
	}
}
