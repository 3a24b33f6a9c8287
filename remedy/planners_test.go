package remedy

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-egress/kubectl-egress/internal/golden"
)

func ptr[T any](v T) *T { return &v }

var istio131 = IstioVersion{1, 31}

func gatewayFixture() EgressGateway {
	// As in fixtures/samples/istiod/manifests/egress-gateway-infra.yaml.
	return EgressGateway{
		Namespace:    "istio-system",
		Name:         "istio-egressgateway",
		Selector:     map[string]string{"istio": "egressgateway", "app": "istio-egressgateway"},
		ServicePorts: []uint32{80, 443},
		PodLabels:    []map[string]string{{"istio": "egressgateway", "app": "istio-egressgateway"}},
	}
}

// gatewayAPIExisting is a cluster that serves the Gateway API (TLSRoute included) and whose
// istiod created the istio GatewayClass.
func gatewayAPIExisting() Existing {
	return Existing{
		GatewayAPI:     GatewayAPI{Gateways: true, HTTPRoutes: true, TLSRoutes: true},
		GatewayClasses: []*gatewayv1.GatewayClass{{ObjectMeta: metav1.ObjectMeta{Name: GatewayClassIstio}}},
	}
}

// plannerCases are every planner case with a golden file testdata/<name>.yaml.
var plannerCases = []struct {
	name string
	plan func() (*Plan, error)
}{
	{"register-tls", func() (*Plan, error) {
		return PlanRegister(Target{Host: "httpbin.org", Namespace: "demo", Istio: istio131},
			RegisterOptions{Ports: []Port{{443, "tls"}}}, Existing{})
	}},
	{"register-http-https-route-policy", func() (*Plan, error) {
		return PlanRegister(Target{Host: "httpbin.org", Namespace: "demo",
			Route: RoutePolicy{Timeout: 5 * time.Second, Retries: ptr(int32(3)), PerTryTimeout: 2 * time.Second, RetryOn: "connect-failure,5xx"}},
			RegisterOptions{Ports: []Port{{443, "HTTPS"}, {80, "HTTP"}}}, Existing{})
	}},
	{"register-wildcard-dynamic-dns", func() (*Plan, error) {
		return PlanRegister(Target{Host: "*.example.com", Namespace: "demo", Istio: istio131},
			RegisterOptions{Ports: []Port{{443, "TLS"}}}, Existing{})
	}},
	{"register-wildcard-old-istio", func() (*Plan, error) {
		return PlanRegister(Target{Host: "*.example.com", Namespace: "demo", Istio: IstioVersion{1, 24}},
			RegisterOptions{Ports: []Port{{443, "TLS"}}}, Existing{})
	}},
	{"register-ip-tcp", func() (*Plan, error) {
		return PlanRegister(Target{Host: "203.0.113.10", Namespace: "demo"},
			RegisterOptions{Ports: []Port{{5432, "TCP"}}}, Existing{})
	}},
	{"register-tcp-dns-no-address", func() (*Plan, error) {
		return PlanRegister(Target{Host: "db.example.com", Namespace: "demo", ExportTo: []string{"*"}},
			RegisterOptions{Ports: []Port{{5432, "TCP"}}}, Existing{})
	}},
	{"register-v1beta1", func() (*Plan, error) {
		return PlanRegister(Target{Host: "httpbin.org", Namespace: "demo", Istio: IstioVersion{1, 20}},
			RegisterOptions{Ports: []Port{{443, "TLS"}}}, Existing{})
	}},
	{"tls-origination", func() (*Plan, error) {
		return PlanTLSOrigination(Target{Host: "httpbin.org", Namespace: "demo", Istio: istio131},
			TLSOriginationOptions{AppPorts: []Port{{443, "TLS"}}}, Existing{})
	}},
	{"tls-origination-ca-route-policy", func() (*Plan, error) {
		return PlanTLSOrigination(Target{Host: "httpbin.org", Namespace: "demo", Istio: istio131,
			Route: RoutePolicy{Timeout: 10 * time.Second, Retries: ptr(int32(2))}},
			TLSOriginationOptions{CACertificates: "/etc/certs/httpbin-ca.pem"}, Existing{})
	}},
	{"tls-origination-credential", func() (*Plan, error) {
		return PlanTLSOrigination(Target{Host: "api.example.com", Namespace: "shop", APIVersion: NetworkingV1},
			TLSOriginationOptions{CredentialName: "example-ca", WorkloadSelector: map[string]string{"app": "web"}}, Existing{})
	}},
	{"tls-origination-pre-1.8", func() (*Plan, error) {
		return PlanTLSOrigination(Target{Host: "edition.cnn.com", Namespace: "default", Istio: IstioVersion{1, 7}},
			TLSOriginationOptions{}, Existing{})
	}},
	{"egress-gateway-passthrough", func() (*Plan, error) {
		return PlanEgressGateway(Target{Host: "edition.cnn.com", Namespace: "demo", Istio: istio131},
			EgressGatewayOptions{Gateway: gatewayFixture()}, Existing{})
	}},
	{"egress-gateway-origination", func() (*Plan, error) {
		return PlanEgressGateway(Target{Host: "edition.cnn.com", Namespace: "demo", Istio: istio131,
			Route: RoutePolicy{Timeout: 3 * time.Second}},
			EgressGatewayOptions{Gateway: gatewayFixture(), TLSOrigination: true, AppPorts: []Port{{443, "TLS"}}}, Existing{})
	}},
	// edition.cnn.com seen as HTTP on port 80: routed as the egress-gateway task routes HTTP.
	{"egress-gateway-http", func() (*Plan, error) {
		return PlanEgressGateway(Target{Host: "edition.cnn.com", Namespace: "demo", Istio: istio131},
			EgressGatewayOptions{Gateway: gatewayFixture(), AppPorts: []Port{{80, "HTTP"}}}, Existing{})
	}},
	{"egress-gateway-http-and-tls-route-policy", func() (*Plan, error) {
		return PlanEgressGateway(Target{Host: "edition.cnn.com", Namespace: "demo", Istio: istio131,
			Route: RoutePolicy{Timeout: 5 * time.Second}},
			EgressGatewayOptions{Gateway: gatewayFixture(), AppPorts: []Port{{80, "HTTP"}, {443, "TLS"}}}, Existing{})
	}},
	{"register-traffic-policy", func() (*Plan, error) {
		return PlanRegister(Target{Host: "api.example.com", Namespace: "demo", Istio: istio131, Traffic: TrafficPolicy{
			ConnectTimeout: 3 * time.Second, MaxConnections: 50, IdleTimeout: 5 * time.Minute,
			Outlier: &OutlierPolicy{Consecutive5xxErrors: 5, Interval: 10 * time.Second, BaseEjectionTime: 30 * time.Second, MaxEjectionPercent: 100}}},
			RegisterOptions{Ports: []Port{{443, "TLS"}}}, Existing{})
	}},
	{"tls-origination-traffic-policy", func() (*Plan, error) {
		return PlanTLSOrigination(Target{Host: "httpbin.org", Namespace: "demo", Istio: istio131, Traffic: TrafficPolicy{
			MaxConnections: 10, MaxPendingRequests: 20, MaxRequestsPerConnection: 100, IdleTimeout: time.Minute}},
			TLSOriginationOptions{}, Existing{})
	}},
	{"egress-gateway-traffic-policy", func() (*Plan, error) {
		return PlanEgressGateway(Target{Host: "edition.cnn.com", Namespace: "demo", Istio: istio131, Traffic: TrafficPolicy{
			ConnectTimeout: 2 * time.Second, Outlier: &OutlierPolicy{ConsecutiveGatewayErrors: 3}}},
			EgressGatewayOptions{Gateway: gatewayFixture(), AppPorts: []Port{{80, "HTTP"}}}, Existing{})
	}},
	{"alias", func() (*Plan, error) {
		return PlanAlias(Target{Host: "bin.alias", Namespace: "demo", Istio: istio131}, AliasOptions{Long: "httpbin.org"}, Existing{})
	}},
	{"lockdown-namespace", func() (*Plan, error) {
		return PlanLockdown(Target{Namespace: "demo", Istio: istio131}, LockdownOptions{}, Existing{})
	}},
	{"lockdown-canary-networkpolicy", func() (*Plan, error) {
		return PlanLockdown(Target{Namespace: "demo", Istio: istio131}, LockdownOptions{Workload: "deploy/api",
			WorkloadSelector: map[string]string{"app": "api"}, EgressHosts: []string{"./*", "istio-system/*"}, NetworkPolicy: true}, Existing{})
	}},
	{"logging", func() (*Plan, error) {
		return PlanLogging(Target{Namespace: "demo", Istio: istio131}, Existing{})
	}},
	{"gateway-api-egress-tls", func() (*Plan, error) {
		return PlanGatewayAPIEgress(Target{Host: "edition.cnn.com", Namespace: "demo", Istio: istio131},
			GatewayAPIEgressOptions{}, gatewayAPIExisting())
	}},
	{"gateway-api-egress-http", func() (*Plan, error) {
		return PlanGatewayAPIEgress(Target{Host: "edition.cnn.com", Namespace: "demo", Istio: istio131},
			GatewayAPIEgressOptions{AppPorts: []Port{{80, "HTTP"}}}, gatewayAPIExisting())
	}},
	{"gateway-api-egress-http-and-tls", func() (*Plan, error) {
		return PlanGatewayAPIEgress(Target{Host: "api.example.com", Namespace: "shop", Istio: istio131},
			GatewayAPIEgressOptions{AppPorts: []Port{{8080, "HTTP"}, {8443, "TLS"}}}, gatewayAPIExisting())
	}},
	{"ambient-tls-origination-new-waypoint", func() (*Plan, error) {
		return PlanTLSOrigination(Target{Host: "httpbin.org", Namespace: "shop", Istio: istio131,
			Waypoint: &Waypoint{Namespace: "shop", Name: DefaultWaypointName, Create: true}},
			TLSOriginationOptions{}, Existing{})
	}},
	{"ambient-register-other-namespace-waypoint", func() (*Plan, error) {
		return PlanRegister(Target{Host: "api.example.com", Namespace: "shop", Istio: istio131,
			Waypoint: &Waypoint{Namespace: "istio-egress", Name: "waypoint"}},
			RegisterOptions{Ports: []Port{{443, "TLS"}}}, Existing{})
	}},
	{"egress-gateway-same-namespace", func() (*Plan, error) {
		g := gatewayFixture()
		g.Namespace = "demo"
		return PlanEgressGateway(Target{Host: "edition.cnn.com", Namespace: "demo"},
			EgressGatewayOptions{Gateway: g, TLSOrigination: true, CACertificates: "/etc/ssl/certs/ca-certificates.crt"}, Existing{})
	}},
}

// render is the golden form of a plan: warnings and notes as comments, then the YAML.
func render(t *testing.T, p *Plan) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, w := range p.Warnings {
		fmt.Fprintf(&b, "# warning: %s\n", w)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "# note: %s\n", n)
	}
	if err := WriteYAML(&b, p); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestPlannersGolden(t *testing.T) {
	for _, tc := range plannerCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.plan()
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			got := render(t, p)
			golden.Check(t, filepath.Join("testdata", tc.name+".yaml"), got)
			// Same input, same bytes: names and order are deterministic.
			again, _ := tc.plan()
			if diff := cmp.Diff(string(got), string(render(t, again))); diff != "" {
				t.Errorf("planning twice gave different output:\n%s", diff)
			}
		})
	}
}

// Every generated object passes Istio's own validation, checked again here object by object so
// a planner that skipped validation would be caught.
func TestPlannedObjectsValidate(t *testing.T) {
	for _, tc := range plannerCases {
		p, err := tc.plan()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		objs, err := p.Unstructured()
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range objs {
			if _, err := Validate(u); err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			if !isManaged(u.GetLabels()) || u.GetAnnotations()[AnnotationHost] != p.Host || u.GetAnnotations()[AnnotationFix] != string(p.Fix) {
				t.Errorf("%s: %s/%s lacks the managed-by label or the host/fix annotations: %v %v", tc.name,
					u.GetKind(), u.GetName(), u.GetLabels(), u.GetAnnotations())
			}
			if strings.Contains(u.GetName(), ".") || len(u.GetName()) > 63 {
				t.Errorf("%s: name %q is not a DNS-1123 label", tc.name, u.GetName())
			}
		}
	}
}

// The ambient form is istio.io's ambient egress recipe (docs/ambient/usage/egress-gateway):
// the ServiceEntry is bound to the waypoint by the istio.io/use-waypoint label, port 80 is HTTP
// with targetPort 443, a DestinationRule makes the waypoint originate TLS, and the waypoint is a
// Gateway of class istio-waypoint with the HBONE listener on 15008 (istioctl waypoint apply).
func TestAmbientFormFollowsIstioDocs(t *testing.T) {
	p, err := PlanTLSOrigination(Target{Host: "httpbin.org", Namespace: "shop", Istio: istio131,
		Waypoint: &Waypoint{Namespace: "shop", Name: "waypoint", Create: true}}, TLSOriginationOptions{}, Existing{})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := p.Unstructured()
	if err != nil {
		t.Fatal(err)
	}
	byKind := map[string]map[string]any{}
	for _, u := range objs {
		byKind[u.GetKind()] = u.Object
	}
	for _, c := range []struct {
		kind string
		path []string
		want any
	}{
		{"ServiceEntry", []string{"metadata", "labels", "istio.io/use-waypoint"}, "waypoint"},
		{"ServiceEntry", []string{"spec", "ports", "0", "number"}, int64(80)},
		{"ServiceEntry", []string{"spec", "ports", "0", "protocol"}, "HTTP"},
		{"ServiceEntry", []string{"spec", "ports", "0", "targetPort"}, int64(443)},
		{"ServiceEntry", []string{"spec", "resolution"}, "DNS"},
		{"DestinationRule", []string{"spec", "host"}, "httpbin.org"},
		{"DestinationRule", []string{"spec", "trafficPolicy", "portLevelSettings", "0", "tls", "mode"}, "SIMPLE"},
		{"Gateway", []string{"spec", "gatewayClassName"}, "istio-waypoint"},
		{"Gateway", []string{"metadata", "labels", "istio.io/waypoint-for"}, "service"},
		{"Gateway", []string{"spec", "listeners", "0", "port"}, int64(15008)},
		{"Gateway", []string{"spec", "listeners", "0", "protocol"}, "HBONE"},
	} {
		var v any = byKind[c.kind]
		for _, k := range c.path {
			switch x := v.(type) {
			case map[string]any:
				v = x[k]
			case []any:
				var i int
				fmt.Sscan(k, &i)
				v = x[i]
			}
		}
		if fmt.Sprint(v) != fmt.Sprint(c.want) {
			t.Errorf("%s %s = %v, want %v", c.kind, strings.Join(c.path, "."), v, c.want)
		}
	}
}

// A waypoint in another namespace is named on the ServiceEntry and sees the objects; fixes with
// no ambient form, and a DestinationRule that would select the app's pods, are refused.
func TestAmbientBindingRules(t *testing.T) {
	wp := &Waypoint{Namespace: "istio-egress", Name: "waypoint"}
	p, err := PlanRegister(Target{Host: "api.example.com", Namespace: "shop", Istio: istio131, Waypoint: wp},
		RegisterOptions{Ports: []Port{{443, "TLS"}}}, Existing{})
	if err != nil {
		t.Fatal(err)
	}
	se := p.Objects[0].GetLabels()
	if se[LabelUseWaypoint] != "waypoint" || se[LabelUseWaypointNamespace] != "istio-egress" {
		t.Errorf("ServiceEntry labels %v: want use-waypoint waypoint in istio-egress", se)
	}
	if got := UsesWaypoint("shop", se); got != "istio-egress/waypoint" {
		t.Errorf("usesWaypoint = %q", got)
	}
	if _, err := PlanTLSOrigination(Target{Host: "api.example.com", Namespace: "shop", Istio: istio131, Waypoint: wp},
		TLSOriginationOptions{CredentialName: "api-ca", WorkloadSelector: map[string]string{"app": "shop"}}, Existing{}); err == nil ||
		!strings.Contains(err.Error(), "waypoint istio-egress/waypoint originates TLS") {
		t.Errorf("selector in ambient mode: err = %v", err)
	}
	if _, err := PlanEgressGateway(Target{Host: "api.example.com", Namespace: "shop", Istio: istio131, Waypoint: wp},
		EgressGatewayOptions{Gateway: gatewayFixture()}, Existing{}); err == nil || !strings.Contains(err.Error(), "ambient mode") {
		t.Errorf("egress gateway in ambient mode: err = %v", err)
	}
}

// Undo keeps a waypoint that ServiceEntries left behind still use, and takes one that the undo
// leaves unused, whichever host's fix wrote it.
func TestUndoKeepsUsedWaypoints(t *testing.T) {
	wp := ManagedObject{Group: GatewayAPIGroup, Kind: "Gateway", Namespace: "shop", Name: "waypoint", Host: "a.example.com", IsWaypoint: true}
	seA := ManagedObject{Group: NetworkingGroup, Kind: "ServiceEntry", Namespace: "shop", Name: "egress-a", Host: "a.example.com", Waypoint: "shop/waypoint"}
	seB := ManagedObject{Group: NetworkingGroup, Kind: "ServiceEntry", Namespace: "shop", Name: "egress-b", Host: "b.example.com", Waypoint: "shop/waypoint"}
	all := []ManagedObject{wp, seA, seB}
	names := func(ms []ManagedObject) []string {
		var n []string
		for _, m := range ms {
			n = append(n, m.Name)
		}
		return n
	}
	// Undo a: b still uses the waypoint.
	out, kept := keepUsedWaypoints(all, []ManagedObject{wp, seA})
	if diff := cmp.Diff([]string{"egress-a"}, names(out)); diff != "" || len(kept) != 1 {
		t.Errorf("undo a: deletes %v, keeps %v", names(out), names(kept))
	}
	// Then undo b: the waypoint, written for a, goes with its last user.
	out, kept = keepUsedWaypoints([]ManagedObject{wp, seB}, []ManagedObject{seB})
	if diff := cmp.Diff([]string{"egress-b", "waypoint"}, names(out)); diff != "" || len(kept) != 0 {
		t.Errorf("undo b: deletes %v, keeps %v", names(out), names(kept))
	}
}
