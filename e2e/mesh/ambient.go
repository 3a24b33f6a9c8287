package mesh

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// The ambient side of the mesh: the Gateway API CRDs a waypoint is made of, the waypoint template
// istiod's gateway deployment controller renders, and a ztunnel DaemonSet whose pods the stand-ins
// of e2e/ztunnel serve.
const (
	gatewayAPIModule = "sigs.k8s.io/gateway-api@v1.6.3"
	// istioModule is the istio.io/istio that e2e/tools/istiod/go.mod pins, so the waypoint
	// template istiod renders is the one of the istiod that runs (TestIstioModuleMatchesIstiod).
	istioModule = "istio.io/istio@v0.0.0-20260827124520-eed52ebb66ad"

	// GatewayNameLabel is on every pod istiod's deployment controller creates for a Gateway.
	GatewayNameLabel = "gateway.networking.k8s.io/gateway-name"
	// gatewayClassLabel names the class of that Gateway; istio-waypoint for a waypoint.
	gatewayClassLabel = "gateway.networking.k8s.io/gateway-class-name"
	// WaypointClass is the GatewayClass of Istio's waypoints.
	WaypointClass = "istio-waypoint"

	// DataplaneModeLabel enrols a namespace or a pod in ambient mode (value "ambient").
	DataplaneModeLabel = "istio.io/dataplane-mode"
	// redirectionAnnotation is what istio-cni writes on a pod once its traffic goes to ztunnel;
	// istiod gives such a pod the HBONE protocol in workload discovery.
	redirectionAnnotation = "ambient.istio.io/redirection"
)

// gatewayAPICRDFiles are the standard channel's CRDs; the channel's ValidatingAdmissionPolicy
// file is not a CRD and is left out.
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

// injectorTemplates are the templates of istio-discovery's chart the mesh gives istiod's gateway
// deployment controller, read from the istio module as the chart ships them.
var injectorTemplates = map[string]string{"waypoint": "waypoint.yaml"}

// injectorManifest is the istio-sidecar-injector ConfigMap istiod loads at start-up
// (pilot/pkg/bootstrap/sidecarinjector.go), and the class defaults that let the waypoints' pods
// onto the kwok node, as an operator customizes gateway Deployments (label
// gateway.istio.io/defaults-for-class).
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
	injector := corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "istio-sidecar-injector", Namespace: "istio-system"},
		Data: map[string]string{
			"config": string(config),
			// The smallest values the templates render with (Istio's own deployment controller
			// test uses the same): the proxy image's hub and tag.
			"values": `{"global":{"hub":"docker.io/istio","tag":"` + IstioVersion + `"}}`,
		},
	}
	waypointDefaults := corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "istio-waypoint-class-defaults", Namespace: "istio-system",
			Labels: map[string]string{"gateway.istio.io/defaults-for-class": WaypointClass}},
		Data: map[string]string{"deployment": `spec:
  template:
    spec:
      automountServiceAccountToken: false
      tolerations: [{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}]
`},
	}
	var docs []string
	for _, cm := range []corev1.ConfigMap{injector, waypointDefaults} {
		b, err := yaml.Marshal(cm)
		if err != nil {
			return "", err
		}
		docs = append(docs, string(b))
	}
	return strings.Join(docs, "---\n"), nil
}

// ztunnelManifest is the ztunnel DaemonSet the way Istio's ztunnel chart installs it (one pod per
// node, container istio-proxy, label app=ztunnel), tolerating the kwok node.
const ztunnelManifest = `apiVersion: v1
kind: ServiceAccount
metadata: {name: ztunnel, namespace: istio-system}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ztunnel, namespace: istio-system, labels: {app: ztunnel}}
spec:
  selector: {matchLabels: {app: ztunnel}}
  template:
    metadata:
      labels: {app: ztunnel, sidecar.istio.io/inject: "false", istio.io/dataplane-mode: none}
      annotations: {prometheus.io/scrape: "true", prometheus.io/port: "15020"}
    spec:
      serviceAccountName: ztunnel
      automountServiceAccountToken: false
      tolerations: [{operator: Exists}]
      containers:
      - name: istio-proxy
        image: docker.io/istio/ztunnel:` + IstioVersion + `
        args: [proxy, ztunnel]
        ports:
        - {containerPort: 15020, name: ztunnel-stats, protocol: TCP}
        env:
        - {name: CA_ADDRESS, value: "istiod.istio-system.svc:15012"}
        - {name: XDS_ADDRESS, value: "istiod.istio-system.svc:15012"}
        - {name: ISTIO_META_ENABLE_HBONE, value: "true"}
`

// isZtunnelPod tells a ztunnel DaemonSet pod.
func isZtunnelPod(p *corev1.Pod) bool {
	return p.Namespace == "istio-system" && p.Labels["app"] == "ztunnel"
}

// isWaypointPod tells a pod istiod's deployment controller made for a waypoint.
func isWaypointPod(p *corev1.Pod) bool {
	return p.Labels[gatewayClassLabel] == WaypointClass
}

// EgressNamespace holds the mesh's egress waypoint, as istio.io's ambient egress page sets it up:
// the namespace is enrolled to use its waypoint, so every ServiceEntry in it goes through it.
const EgressNamespace = "istio-egress"

// ambientSharedManifest is the egress waypoint and one external host registered behind it.
const ambientSharedManifest = `apiVersion: v1
kind: Namespace
metadata:
  name: istio-egress
  labels: {istio.io/dataplane-mode: ambient, istio.io/use-waypoint: waypoint}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: waypoint
  namespace: istio-egress
  labels: {istio.io/waypoint-for: service}
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - {name: mesh, port: 15008, protocol: HBONE}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: wikipedia, namespace: istio-egress}
spec:
  hosts: [www.wikipedia.org]
  location: MESH_EXTERNAL
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
`
