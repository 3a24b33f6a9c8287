package mesh

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/kubectl-egress/kubectl-egress/e2e/sidecar"
)

// CallsAnnotation on a pod lists, as JSON, the outbound calls its app makes; the pod's sidecar
// stand-in replays them through the live Envoy configuration. Tests set it on their own pods.
const CallsAnnotation = "localmesh.kubectl-egress.dev/calls"

// ScrapeAddressAnnotation on a pod is the loopback HOST:PORT where its stand-in serves the
// admin API and /stats/prometheus; the mesh writes it once the stand-in listens. A Prometheus
// of the local mesh rewrites __address__ from it (the pod IP is not reachable).
const ScrapeAddressAnnotation = "localmesh.kubectl-egress.dev/scrape-address"

// IstioVersion is what the stand-ins report as their proxy's Istio version.
const IstioVersion = "1.31.1"

// Scenario is one namespace of the demo mesh: a Deployment whose pods call external hosts, with
// the Istio configuration that decides what their sidecars do with those calls.
type Scenario struct {
	Namespace string
	App       string
	Replicas  int
	// PodAnnotations are added to the pod template (capture exclusions, for instance).
	PodAnnotations map[string]string
	// NamespaceLabels label the namespace (istio.io/rev, for instance).
	NamespaceLabels map[string]string
	Calls           []sidecar.Call
	// Config is YAML applied in the namespace before the Deployment.
	Config string
	// Ambient puts the namespace in ambient mode: its pods have no istio-proxy container, the
	// node's ztunnel (and the waypoints it picks) carries their calls.
	Ambient bool
	// Expect maps "HOST:PORT" to the disposition `kubectl egress inspect` must report.
	Expect map[string]string
}

// Scenarios mirror the source documents: one namespace per way the proxy can treat a call.
func Scenarios(fleet int) []Scenario {
	s := []Scenario{
		{
			Namespace: "demo-passthrough", App: "shop", Replicas: 1,
			Calls: []sidecar.Call{
				{Host: "httpbin.org", IP: "203.0.113.10", Port: 443, Scheme: "https", Count: 3},
				{Host: "edition.cnn.com", IP: "203.0.113.20", Port: 80, Scheme: "http", Path: "/politics", Count: 2},
				// No listener on 8443: the virtualOutbound catch-all has no TLS inspector, so only the IP is seen.
				{Host: "api.partner.example", IP: "198.51.100.7", Port: 8443, Scheme: "https", Count: 1},
			},
			Expect: map[string]string{"httpbin.org:443": "passthrough", "edition.cnn.com:80": "passthrough", "198.51.100.7:8443": "passthrough"},
		},
		{
			Namespace: "demo-locked", App: "billing", Replicas: 1,
			Calls: []sidecar.Call{
				{Host: "google.com", IP: "203.0.113.30", Port: 443, Scheme: "https", Count: 2},
				{Host: "example.com", IP: "203.0.113.40", Port: 80, Scheme: "http", Path: "/", Count: 2},
			},
			Config: `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default}
spec:
  egress:
  - hosts: ["./*", "istio-system/*"]
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
`,
			Expect: map[string]string{"google.com:443": "blocked", "example.com:80": "blocked"},
		},
		{
			// A workload-scoped Sidecar that differs from the namespace's default one: ALLOW_ANY,
			// and egress hosts of its own namespace only, which hide istio-system's googleapis
			// ServiceEntry, so its calls there leave through PassthroughCluster. The namespace's
			// own ServiceEntry for api.github.com gives it a 0.0.0.0_443 listener, whose TLS
			// inspector names the hosts by SNI.
			Namespace: "demo-locked", App: "ledger", Replicas: 1,
			Calls: []sidecar.Call{
				{Host: "www.googleapis.com", IP: "203.0.113.50", Port: 443, Scheme: "https", Count: 1},
				{Host: "api.stripe.com", IP: "203.0.113.52", Port: 443, Scheme: "https", Count: 2},
			},
			Config: `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: ledger}
spec:
  workloadSelector: {labels: {app: ledger}}
  egress:
  - hosts: ["./*"]
  outboundTrafficPolicy: {mode: ALLOW_ANY}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: github}
spec:
  hosts: [api.github.com]
  exportTo: ["."]
  location: MESH_EXTERNAL
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
`,
			Expect: map[string]string{"www.googleapis.com:443": "passthrough", "api.stripe.com:443": "passthrough"},
		},
		{
			// A namespace of revision canary, whose mesh config (istio-canary) says REGISTRY_ONLY:
			// its proxies are served by the default istiod, in ALLOW_ANY.
			Namespace: "demo-canary", App: "jobs", Replicas: 1,
			NamespaceLabels: map[string]string{"istio.io/rev": "canary"},
			Calls:           []sidecar.Call{{Host: "httpbin.org", IP: "203.0.113.10", Port: 443, Scheme: "https", Count: 1}},
			Expect:          map[string]string{"httpbin.org:443": "passthrough"},
		},
		{
			Namespace: "demo-registered", App: "reports", Replicas: 1,
			Calls: []sidecar.Call{{Host: "httpbin.org", IP: "203.0.113.10", Port: 443, Scheme: "https", Count: 2}},
			Config: `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin}
spec:
  hosts: [httpbin.org]
  exportTo: ["."]
  location: MESH_EXTERNAL
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
`,
			Expect: map[string]string{"httpbin.org:443": "registered"},
		},
		{
			Namespace: "demo-originated", App: "checkout", Replicas: 1,
			Calls: []sidecar.Call{{Host: "httpbin.org", IP: "203.0.113.10", Port: 80, Scheme: "http", Path: "/get", Count: 4}},
			Config: `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin}
spec:
  hosts: [httpbin.org]
  exportTo: ["."]
  location: MESH_EXTERNAL
  ports:
  - {number: 80, name: http, protocol: HTTP, targetPort: 443}
  - {number: 443, name: https, protocol: HTTPS}
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin}
spec:
  host: httpbin.org
  exportTo: ["."]
  trafficPolicy:
    portLevelSettings:
    - port: {number: 80}
      tls: {mode: SIMPLE, sni: httpbin.org}
`,
			Expect: map[string]string{"httpbin.org:80": "tls-origination"},
		},
		{
			Namespace: "demo-gateway", App: "news", Replicas: 1,
			Calls: []sidecar.Call{{Host: "edition.cnn.com", IP: "203.0.113.20", Port: 443, Scheme: "https", Count: 2}},
			Config: `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: cnn}
spec:
  hosts: [edition.cnn.com]
  exportTo: [".", istio-system]
  location: MESH_EXTERNAL
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: istio-egressgateway}
spec:
  selector: {istio: egressgateway}
  servers:
  - port: {number: 443, name: tls, protocol: TLS}
    hosts: [edition.cnn.com]
    tls: {mode: PASSTHROUGH}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: egressgateway-for-cnn}
spec:
  host: istio-egressgateway.istio-system.svc.cluster.local
  exportTo: ["."]
  subsets: [{name: cnn}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: direct-cnn-through-egress-gateway}
spec:
  hosts: [edition.cnn.com]
  exportTo: [".", istio-system]
  gateways: [mesh, istio-egressgateway]
  tls:
  - match: [{gateways: [mesh], port: 443, sniHosts: [edition.cnn.com]}]
    route: [{destination: {host: istio-egressgateway.istio-system.svc.cluster.local, subset: cnn, port: {number: 443}}}]
  - match: [{gateways: [istio-egressgateway], port: 443, sniHosts: [edition.cnn.com]}]
    route: [{destination: {host: edition.cnn.com, port: {number: 443}}, weight: 100}]
`,
			Expect: map[string]string{"edition.cnn.com:443": "egress-gateway"},
		},
		{
			Namespace: "demo-bypass", App: "legacy", Replicas: 1,
			PodAnnotations: map[string]string{"traffic.sidecar.istio.io/excludeOutboundIPRanges": "192.0.2.0/24"},
			Calls: []sidecar.Call{
				{Host: "ledger.internal.example", IP: "192.0.2.15", Port: 443, Scheme: "https", Count: 5},
				{Host: "httpbin.org", IP: "203.0.113.10", Port: 443, Scheme: "https", Count: 1},
			},
			Expect: map[string]string{"192.0.2.0/24": "bypassed", "httpbin.org:443": "passthrough"},
		},
		{
			// Ambient mode, the way istio.io's ambient egress page sets it up:
			// catalog.example.net is registered in the namespace (ztunnel sends it straight out,
			// to the address its DNS proxy hands out for it), docs.example.net is registered in
			// istio-egress, whose namespace uses that namespace's waypoint
			// (ambientSharedManifest), and postman-echo.com is not registered at all: ztunnel
			// passes it through, seen by IP. The hosts are no other scenario's or test's: the
			// istio-egress ServiceEntry is exported to every namespace, and would register its
			// host for the sidecars too.
			Namespace: "demo-ambient", App: "cart", Replicas: 1, Ambient: true,
			Calls: []sidecar.Call{
				{Host: "catalog.example.net", IP: "203.0.113.90", Port: 443, Scheme: "https", Count: 2},
				{Host: "docs.example.net", IP: "203.0.113.91", Port: 80, Scheme: "http", Path: "/guide", Count: 2},
				{Host: "postman-echo.com", IP: "203.0.113.60", Port: 80, Scheme: "http", Path: "/get", Count: 3},
			},
			Config: `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: catalog}
spec:
  hosts: [catalog.example.net]
  exportTo: ["."]
  location: MESH_EXTERNAL
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
`,
			Expect: map[string]string{"catalog.example.net:443": "registered", "docs.example.net:80": "egress-waypoint", "203.0.113.60:80": "passthrough"},
		},
	}
	if fleet > 0 {
		s = append(s, Scenario{
			Namespace: "demo-fleet", App: "fleet", Replicas: fleet,
			Calls: []sidecar.Call{
				{Host: "httpbin.org", IP: "203.0.113.10", Port: 443, Scheme: "https", Count: 2},
				{Host: "edition.cnn.com", IP: "203.0.113.20", Port: 80, Scheme: "http", Path: "/", Count: 1},
			},
		})
	}
	return s
}

// meshConfigManifest is the mesh-wide configuration istiod reads, the egress gateway, and one
// ServiceEntry exported to every namespace (as real meshes have) so sidecars get a 0.0.0.0_443
// listener whose TLS inspector can see SNI.
const meshConfigManifest = `apiVersion: v1
kind: Namespace
metadata: {name: istio-system}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    accessLogFile: /dev/stdout
    accessLogEncoding: TEXT
    defaultProviders:
      metrics: [prometheus]
    # Access-log providers a namespace's Telemetry can pick instead of the TEXT default: Istio's
    # JSON encoding, and a TEXT format of our own (tests read both back).
    extensionProviders:
    - name: envoy-json
      envoyFileAccessLog:
        path: /dev/stdout
        logFormat: {labels: {}}
    - name: envoy-custom-text
      envoyFileAccessLog:
        path: /dev/stdout
        logFormat:
          text: '%START_TIME% egress dst=%DOWNSTREAM_LOCAL_ADDRESS% cluster=%UPSTREAM_CLUSTER_RAW% sni=%REQUESTED_SERVER_NAME% host="%REQ(:AUTHORITY)%" route=%ROUTE_NAME% code=%RESPONSE_CODE% flags=%RESPONSE_FLAGS% method=%REQ(:METHOD)% sent=%BYTES_SENT%'

    outboundTrafficPolicy:
      mode: ALLOW_ANY
    defaultConfig:
      discoveryAddress: istiod.istio-system.svc:15012
  meshNetworks: 'networks: {}'
---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio-canary, namespace: istio-system}
data:
  mesh: |
    accessLogFile: /dev/stdout
    outboundTrafficPolicy:
      mode: REGISTRY_ONLY
`

const sharedManifest = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: googleapis, namespace: istio-system}
spec:
  hosts: [www.googleapis.com]
  location: MESH_EXTERNAL
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
---
apiVersion: v1
kind: Service
metadata:
  name: istio-egressgateway
  namespace: istio-system
  labels: {istio: egressgateway, app: istio-egressgateway}
spec:
  selector: {istio: egressgateway, app: istio-egressgateway}
  ports:
  - {name: http2, port: 80, targetPort: 8080}
  - {name: https, port: 443, targetPort: 8443}
`

// scaleManifest is namespace demo-scale with n external ServiceEntries exported everywhere,
// alternating TLS on 443 (an SNI chain each in 0.0.0.0_443) and HTTP on 80 (a virtual host each
// in route 80), resolved by DNS, like a big mesh's registry of SaaS hosts.
func scaleManifest(n int) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Namespace\nmetadata: {name: demo-scale}\n")
	for i := range n {
		port := `{number: 443, name: tls, protocol: TLS}`
		if i%2 == 1 {
			port = `{number: 80, name: http, protocol: HTTP}`
		}
		fmt.Fprintf(&b, `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: saas-%[1]d, namespace: demo-scale}
spec:
  hosts: [api%[1]d.saas.example]
  location: MESH_EXTERNAL
  ports: [%[2]s]
  resolution: DNS
`, i, port)
	}
	return b.String()
}

// Workload renders a Deployment of replicas pods in ns, labelled app=app, each with an
// istio-proxy container the way Istio's injector renders it and the calls its app makes, for
// tests that need a workload of their own.
func Workload(ns, app string, replicas int, calls []sidecar.Call) (string, error) {
	return deployment(ns, app, replicas, nil, calls, false, false)
}

// WorkloadAnnotated is Workload with pod annotations (proxy.istio.io/config, for instance).
func WorkloadAnnotated(ns, app string, replicas int, annotations map[string]string, calls []sidecar.Call) (string, error) {
	return deployment(ns, app, replicas, annotations, calls, false, false)
}

// AmbientWorkload renders a one-pod Deployment app in ns, with no sidecar: in a namespace in
// ambient mode its node's ztunnel stand-in captures it and makes its calls.
func AmbientWorkload(ns, app string, calls []sidecar.Call) (string, error) {
	return deployment(ns, app, 1, nil, calls, false, true)
}

// deployment renders a Deployment whose pods carry an istio-proxy container the way Istio's
// injector renders it.
func deployment(ns, app string, replicas int, annotations map[string]string, calls []sidecar.Call, gateway, ambient bool) (string, error) {
	ann := map[string]string{
		"sidecar.istio.io/status":                 `{"initContainers":["istio-init"],"containers":["istio-proxy"],"volumes":["istio-envoy","istio-data","istio-podinfo","istio-token","istiod-ca-cert"],"imagePullSecrets":null,"revision":"default"}`,
		"kubectl.kubernetes.io/default-container": app,
		"prometheus.io/scrape":                    "true",
		"prometheus.io/port":                      "15020",
		"prometheus.io/path":                      "/stats/prometheus",
	}
	for k, v := range annotations {
		ann[k] = v
	}
	if len(calls) > 0 {
		b, err := json.Marshal(calls)
		if err != nil {
			return "", err
		}
		ann[CallsAnnotation] = string(b)
	}
	labels := map[string]string{"app": app, "security.istio.io/tlsMode": "istio", "service.istio.io/canonical-name": app}
	if ambient {
		// No injection: the app container alone, its traffic redirected to the node's ztunnel.
		delete(ann, "sidecar.istio.io/status")
		delete(ann, "prometheus.io/scrape")
		delete(ann, "prometheus.io/port")
		delete(ann, "prometheus.io/path")
		delete(labels, "security.istio.io/tlsMode")
	}
	containers := fmt.Sprintf(`      - name: %s
        image: curlimages/curl:8.11.0
        command: [sleep, infinity]
      - name: istio-proxy
        image: docker.io/istio/proxyv2:%s
        args: [proxy, sidecar, --domain, $(POD_NAMESPACE).svc.cluster.local]
        ports:
        - {containerPort: 15090, name: http-envoy-prom, protocol: TCP}
`, app, IstioVersion)
	initContainers := fmt.Sprintf(`      initContainers:
      - name: istio-init
        image: docker.io/istio/proxyv2:%s
        args: [istio-iptables, -p, "15001", -z, "15006", -u, "1337", -m, REDIRECT]
`, IstioVersion)
	if ambient {
		initContainers = ""
		containers = fmt.Sprintf(`      - name: %s
        image: curlimages/curl:8.11.0
        command: [sleep, infinity]
`, app)
	}
	if gateway {
		delete(ann, "sidecar.istio.io/status")
		delete(ann, "kubectl.kubernetes.io/default-container")
		labels = map[string]string{"app": app, "istio": "egressgateway"}
		initContainers = ""
		containers = fmt.Sprintf(`      - name: istio-proxy
        image: docker.io/istio/proxyv2:%s
        args: [proxy, router, --domain, $(POD_NAMESPACE).svc.cluster.local]
        ports:
        - {containerPort: 8080, name: http2}
        - {containerPort: 8443, name: https}
        - {containerPort: 15090, name: http-envoy-prom}
`, IstioVersion)
	}
	annJSON, _ := json.Marshal(ann)
	labelJSON, _ := json.Marshal(labels)
	selJSON, _ := json.Marshal(map[string]string{"app": app})
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %s, namespace: %s, labels: {app: %s}}
spec:
  replicas: %d
  selector: {matchLabels: %s}
  template:
    metadata:
      labels: %s
      annotations: %s
    spec:
      nodeName: %s
      automountServiceAccountToken: false
      tolerations: [{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}]
%s      containers:
%s`, app, ns, app, replicas, selJSON, labelJSON, annJSON, nodeName, initContainers, containers), nil
}

// applyScenarios creates the shared objects, the namespaces and every scenario's Istio config;
// waits until istiod has built a push context with that config (the egress gateway's proxy then
// has its 0.0.0.0_8443 listener from demo-gateway's Gateway); and only then creates the scenario
// workloads, so their sidecars' first configuration — the one their calls run against — is
// the scenario's.
func (m *Mesh) applyScenarios(ctx context.Context) error {
	gw, err := deployment("istio-system", "istio-egressgateway", 1, nil, nil, true, false)
	if err != nil {
		return err
	}
	docs := []string{sharedManifest, gw, ztunnelManifest}
	for _, s := range Scenarios(m.opts.Fleet) {
		nsLabels := maps.Clone(s.NamespaceLabels)
		if s.Ambient {
			if nsLabels == nil {
				nsLabels = map[string]string{}
			}
			nsLabels[DataplaneModeLabel] = "ambient"
		}
		labels, _ := json.Marshal(nsLabels)
		docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s, labels: %s}\n", s.Namespace, labels))
	}
	if err := m.applyManifest(ctx, "", strings.Join(docs, "\n---\n")); err != nil {
		return err
	}
	if err := m.applyManifest(ctx, "", ambientSharedManifest); err != nil {
		return err
	}
	for _, s := range Scenarios(m.opts.Fleet) {
		if s.Config == "" {
			continue
		}
		if err := m.applyManifest(ctx, s.Namespace, s.Config); err != nil {
			return err
		}
	}
	if n := m.opts.ServiceEntries; n > 0 {
		if err := m.applyManifest(ctx, "", scaleManifest(n)); err != nil {
			return err
		}
	}
	if err := m.Sidecars.waitExpected(ctx, map[string]int{"istio-system": 1}); err != nil {
		return err
	}
	if err := m.waitGatewayListener(ctx, "0.0.0.0_8443"); err != nil {
		return err
	}
	for _, s := range Scenarios(m.opts.Fleet) {
		d, err := deployment(s.Namespace, s.App, s.Replicas, s.PodAnnotations, s.Calls, false, s.Ambient)
		if err != nil {
			return err
		}
		if err := m.applyManifest(ctx, s.Namespace, d); err != nil {
			return err
		}
	}
	return nil
}

// waitGatewayListener polls the egress gateway stand-in's admin API for a listener. A proxy
// that connects before istiod has seen its pod gets no service targets and so no gateway
// listener, and istiod does not push one later; a real gateway pod always starts after istiod
// saw it, so the stand-in is restarted (reconnects) when that race is lost.
func (m *Mesh) waitGatewayListener(ctx context.Context, name string) error {
	for attempt := 0; ; attempt++ {
		gws := m.Sidecars.InNamespace("istio-system")
		if len(gws) == 1 {
			url := "http://" + gws[0].AdminAddr() + "/config_dump?resource=dynamic_listeners&name_regex=" + name
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
				if resp, err := http.Get(url); err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if strings.Contains(string(b), `"`+name+`"`) {
						return nil
					}
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("istiod never pushed listener %s to the egress gateway: %w", name, ctx.Err())
				case <-time.After(100 * time.Millisecond):
				}
			}
			pod := m.Sidecars.podsIn("istio-system")
			m.opts.Log("egress gateway stand-in has no %s listener after 5s (attempt %d): reconnecting", name, attempt+1)
			for _, p := range pod {
				m.Sidecars.restart(p.Namespace, p.Name)
			}
		}
		if err := m.Sidecars.waitExpected(ctx, map[string]int{"istio-system": 1}); err != nil {
			return err
		}
	}
}

// expectedPods is how many sidecar pods each namespace must have running before Up returns.
func (m *Mesh) expectedPods() map[string]int {
	want := map[string]int{"istio-system": 1, EgressNamespace: 1}
	for _, s := range Scenarios(m.opts.Fleet) {
		want[s.Namespace] += s.Replicas
	}
	return want
}

// applyManifest server-side applies YAML with kubectl (in namespace ns, if set), retrying while
// namespaces, service accounts or CRDs settle.
func (m *Mesh) applyManifest(ctx context.Context, ns, yaml string) error {
	args := []string{"apply", "--server-side", "--force-conflicts", "-f", "-"}
	if ns != "" {
		args = append(args, "-n", ns)
	}
	var err error
	for range 30 {
		if _, err = m.kubectl(ctx, yaml, args...); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return err
}
