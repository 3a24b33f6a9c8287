package remedy

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

// The plans must be the recipes a real istiod accepted (fixtures/samples/istiod/manifests),
// up to what kubectl-egress deliberately adds: its names, exportTo, location, the full gateway
// selector, and the object metadata.
func TestPlansMatchIstiodManifests(t *testing.T) {
	tests := []struct {
		manifest string
		plan     *Plan
		// rename maps the plan's names to the manifest's, inside specs.
		rename map[string]string
	}{
		{"egress-gateway.yaml", mustPlan(PlanEgressGateway(Target{Host: "edition.cnn.com", Namespace: "demo"},
			EgressGatewayOptions{Gateway: gatewayFixture()}, Existing{})),
			map[string]string{"egress-edition-cnn-com": "istio-egressgateway", "edition-cnn-com": "cnn"}},
		{"tls-origination-sni.yaml", mustPlan(PlanTLSOrigination(Target{Host: "httpbin.org", Namespace: "demo"},
			TLSOriginationOptions{}, Existing{})), nil},
	}
	for _, tc := range tests {
		t.Run(tc.manifest, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", "fixtures", "samples", "istiod", "manifests", tc.manifest))
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]any{}
			for _, doc := range bytes.Split(raw, []byte("\n---\n")) {
				m := map[string]any{}
				if err := yaml.Unmarshal(doc, &m); err != nil {
					t.Fatal(err)
				}
				want[m["kind"].(string)] = m["spec"]
			}
			objs, err := tc.plan.Unstructured()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]any{}
			for _, u := range objs {
				spec := u.Object["spec"].(map[string]any)
				delete(spec, "exportTo")
				if ws, _ := want[u.GetKind()].(map[string]any); ws["location"] == nil {
					delete(spec, "location")
				}
				if u.GetKind() == "Gateway" {
					spec["selector"] = map[string]any{"istio": "egressgateway"}
				}
				b, _ := yaml.Marshal(spec)
				s := string(b)
				for from, to := range tc.rename {
					s = strings.ReplaceAll(s, ": "+from+"\n", ": "+to+"\n")
					s = strings.ReplaceAll(s, "- "+from+"\n", "- "+to+"\n")
				}
				m := map[string]any{}
				if err := yaml.Unmarshal([]byte(s), &m); err != nil {
					t.Fatal(err)
				}
				got[u.GetKind()] = m
			}
			wantJSON, _ := yaml.Marshal(want)
			gotJSON, _ := yaml.Marshal(got)
			if diff := cmp.Diff(string(wantJSON), string(gotJSON)); diff != "" {
				t.Errorf("plan differs from the manifest istiod accepted (-manifest +plan):\n%s", diff)
			}
		})
	}
}
