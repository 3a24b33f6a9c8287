package mesh

import corev1 "k8s.io/api/core/v1"

// The ambient side of the mesh: the waypoint class (its template and CRDs are the Gateway API
// side's, gatewayapi.go) and a ztunnel DaemonSet whose pods the stand-ins of e2e/ztunnel serve.
const (
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
metadata: {name: docs, namespace: istio-egress}
spec:
  hosts: [docs.example.net]
  location: MESH_EXTERNAL
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
`
