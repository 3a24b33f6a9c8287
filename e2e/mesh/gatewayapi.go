package mesh

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// The Gateway API side of the mesh: its CRDs, and what istiod's gateway deployment controller
// needs to turn a Gateway of class istio or istio-waypoint into a Deployment, a Service and a
// ServiceAccount.
const (
	gatewayAPIModule = "sigs.k8s.io/gateway-api@v1.6.3"
	// istioModule is the istio.io/istio that e2e/tools/istiod/go.mod pins, so the gateway
	// templates istiod renders are those of the istiod that runs (TestIstioModuleMatchesIstiod).
	istioModule = "istio.io/istio@v0.0.0-20260827124520-eed52ebb66ad"
	// GatewayNameLabel is on every pod istiod's deployment controller creates for a Gateway.
	GatewayNameLabel = "gateway.networking.k8s.io/gateway-name"
)

// gatewayAPICRDFiles are the standard channel's CRDs (TLSRoute is v1 there since v1.5); the
// channel's ValidatingAdmissionPolicy file is not a CRD and is left out.
func gatewayAPICRDFiles(ctx context.Context) ([]string, error) {
	dir, err := moduleDir(ctx, gatewayAPIModule)
	if err != nil {
		return nil, err
	}
	std := filepath.Join(dir, "config", "crd", "standard")
	entries, err := os.ReadDir(std)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "gateway.networking.k8s.io_") && !strings.Contains(e.Name(), "vap_") {
			files = append(files, filepath.Join(std, e.Name()))
		}
	}
	return files, nil
}

// injectorTemplates are the templates of istio-discovery's chart istiod's gateway deployment
// controller renders, read from the istio module as the chart ships them: kube-gateway for a
// Gateway of class istio, waypoint for one of class istio-waypoint.
var injectorTemplates = map[string]string{"kube-gateway": "kube-gateway.yaml", "waypoint": "waypoint.yaml"}

// injectorManifest is the istio-sidecar-injector ConfigMap istiod loads at start-up
// (pilot/pkg/bootstrap/sidecarinjector.go) with those templates, and for each class a defaults
// ConfigMap that lets its pods onto the kwok node, as an operator customizes gateway Deployments
// (label gateway.istio.io/defaults-for-class).
func injectorManifest(ctx context.Context) (string, error) {
	dir, err := moduleDir(ctx, istioModule)
	if err != nil {
		return "", err
	}
	templates := map[string]string{}
	for name, file := range injectorTemplates {
		b, err := os.ReadFile(filepath.Join(dir, "manifests", "charts", "istio-control", "istio-discovery", "files", file))
		if err != nil {
			return "", err
		}
		templates[name] = string(b)
	}
	config, err := yaml.Marshal(map[string]any{"templates": templates})
	if err != nil {
		return "", err
	}
	cms := []corev1.ConfigMap{{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "istio-sidecar-injector", Namespace: "istio-system"},
		Data: map[string]string{
			"config": string(config),
			// The smallest values the templates render with (Istio's own deployment controller
			// test uses the same): the proxy image's hub and tag.
			"values": fmt.Sprintf(`{"global":{"hub":"docker.io/istio","tag":%q}}`, IstioVersion),
		},
	}}
	for _, class := range []string{"istio", WaypointClass} {
		cms = append(cms, corev1.ConfigMap{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: class + "-gateway-class-defaults", Namespace: "istio-system",
				Labels: map[string]string{"gateway.istio.io/defaults-for-class": class}},
			Data: map[string]string{"deployment": `spec:
  template:
    spec:
      automountServiceAccountToken: false
      tolerations: [{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}]
`},
		})
	}
	var docs []string
	for _, cm := range cms {
		b, err := yaml.Marshal(cm)
		if err != nil {
			return "", err
		}
		docs = append(docs, string(b))
	}
	return strings.Join(docs, "---\n"), nil
}

// isGatewayPod tells a gateway's pod, which a stand-in serves as a router: the classic egress
// gateway (istio=egressgateway) or one istiod deployed for a Gateway API Gateway that is no
// waypoint (a waypoint's stand-in takes HBONE instead).
func isGatewayPod(p *corev1.Pod) bool {
	return p.Labels["istio"] == "egressgateway" || (p.Labels[GatewayNameLabel] != "" && !isWaypointPod(p))
}
