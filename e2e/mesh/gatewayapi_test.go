package mesh

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The gateway template the mesh gives istiod is read from the istio module istiod is built from.
func TestIstioModuleMatchesIstiod(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "tools", "istiod", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	_, version, _ := strings.Cut(istioModule, "@")
	if !strings.Contains(string(b), "\tistio.io/istio "+version+"\n") {
		t.Errorf("e2e/tools/istiod/go.mod does not pin istio.io/istio %s: update istioModule with the pin", version)
	}
}
